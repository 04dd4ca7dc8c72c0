using RoboFactory.Recording;
using RoboFactory.Data.Zarr;

namespace RoboFactory.Recording.Tests;

/// <summary>`prepare` end to end on LiftBarrier: stores, determinism across worker counts, resume.</summary>
public class RecordingTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("rf-prepare-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static byte[] Bytes(string store, string array) =>
        Directory.GetFiles(Path.Combine(store, array)).Where(f => !Path.GetFileName(f).StartsWith('.')).Order()
            .SelectMany(File.ReadAllBytes).ToArray();

    private static readonly string[] Arrays =
        ["data/head_camera", "data/wrist_camera", "data/global_camera", "data/action", "data/state", "data/tcp_pose", "meta/episode_ends"];

    [Fact]
    public void RecordsOneStorePerAgentIdenticallyWithOneOrTwoWorkers()
    {
        var one = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 2, Workers: 1, OutRoot: Path.Combine(root, "a")));
        var two = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 2, Workers: 2, OutRoot: Path.Combine(root, "b")));
        Assert.Equal(2, one.Stores.Count);
        Assert.EndsWith("LiftBarrier_Agent1_2.zarr", one.Stores[1]);
        for (int agent = 0; agent < 2; agent++)
            foreach (var array in Arrays)
                Assert.True(Bytes(one.Stores[agent], array).AsSpan().SequenceEqual(Bytes(two.Stores[agent], array)), $"agent {agent} {array} differs");

        var ends = ZarrArray<long>.Open(Path.Combine(one.Stores[0], "meta/episode_ends")).ReadAll();
        Assert.Equal(2, ends.Length);
        var head = ZarrArray<byte>.Open(Path.Combine(one.Stores[0], "data/head_camera"));
        Assert.Equal([ends[^1], 3, 240, 320], head.Shape);
        var action = ZarrArray<float>.Open(Path.Combine(one.Stores[0], "data/action")).ReadAll();
        var state = ZarrArray<float>.Open(Path.Combine(one.Stores[0], "data/state")).ReadAll();
        // state is the measured joint state (gripper opening in metres), not a copy of the action
        Assert.NotEqual(action, state);
        Assert.InRange(state[7], 0.07, 0.081);
        Assert.Equal(1f, action[7]);
    }

    [Fact]
    public void ResumeContinuesWithoutDuplicatingEpisodes()
    {
        string reference = Path.Combine(root, "ref"), resumed = Path.Combine(root, "resumed");
        var full = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, OutRoot: reference));

        // an interrupted run: cancel after the first committed episode
        using var cancel = new CancellationTokenSource();
        var progress = new SyncProgress<PrepareProgress>(p => { if (p.Successes >= 1) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, OutRoot: resumed), progress, cancel: cancel.Token));
        Assert.False(ZarrEpisodeWriter.IsComplete(Path.Combine(resumed, "LiftBarrier_Agent0_3.zarr")), "an interrupted store must not look finished");

        var rest = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, OutRoot: resumed, Resume: true));
        for (int agent = 0; agent < 2; agent++)
            foreach (var array in Arrays)
                Assert.True(Bytes(full.Stores[agent], array).AsSpan().SequenceEqual(Bytes(rest.Stores[agent], array)), $"agent {agent} {array} differs after resume");
    }

    [Fact]
    public void RefusesToOverwriteAFinishedStore()
    {
        DemoRecorder.Run(new PrepareOptions("LiftBarrier", 1, OutRoot: root));
        var e = Assert.Throws<ArgumentException>(() => DemoRecorder.Run(new PrepareOptions("LiftBarrier", 1, OutRoot: root)));
        Assert.Contains("--overwrite", e.Message);
    }
}
