using RoboFactory.Data.LeRobot;
using RoboFactory.Data.Rlds;

namespace RoboFactory.Data.Datasets;

/// <summary>The dataset formats `convert` writes and `train --data` reads.</summary>
public enum DatasetFormat
{
    /// <summary>RLDS in the TFDS layout (dataset_info.json, features.json, TFRecord shards), OpenVLA's input.</summary>
    Rlds,
    /// <summary>LeRobotDataset v3.0 (meta/info.json, parquet data files, one MP4 per camera stream).</summary>
    LeRobot,
}

/// <summary>Opens a dataset folder of any supported format: one line per format.</summary>
public static class EpisodeDatasets
{
    /// <summary>The format of the dataset in <paramref name="directory"/>, told by its metadata file, or null.</summary>
    public static DatasetFormat? Detect(string directory)
    {
        if (File.Exists(Path.Combine(directory, "dataset_info.json"))) return DatasetFormat.Rlds;
        if (File.Exists(Path.Combine(directory, "meta", "info.json"))) return DatasetFormat.LeRobot;
        return null;
    }

    public static IEpisodeDataset Open(string directory) => Detect(directory) switch
    {
        DatasetFormat.Rlds => RldsDataset.Open(directory),
        DatasetFormat.LeRobot => LeRobotDataset.Open(directory),
        _ => throw NotADataset(directory),
    };

    private static Exception NotADataset(string directory) => Directory.Exists(directory + ".partial")
        ? new IOException($"{directory} was never completed (only {directory}.partial exists); run convert again")
        : new FileNotFoundException(
            $"{directory} is not a dataset folder: it has neither dataset_info.json (RLDS) nor meta/info.json (LeRobot v3.0)",
            Path.Combine(directory, "dataset_info.json"));
}
