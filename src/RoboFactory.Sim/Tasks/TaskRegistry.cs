using RoboFactory.Sim.Config;

namespace RoboFactory.Sim.Tasks;

/// <summary>A registered task: its YAML file under configs/table/ and its success logic.</summary>
public sealed record TaskEntry(string Name, string ConfigFile, Func<TaskConfig, TaskLogic> CreateLogic)
{
    public string EnvId => $"{Name}-rf";
}

/// <summary>Maps task names ("LiftBarrier" or "LiftBarrier-rf") to their config and logic.</summary>
public static class TaskRegistry
{
    // One line per task: name, YAML under configs/table/, success logic.
    private static readonly TaskEntry[] Entries =
    [
        new("LiftBarrier", "lift_barrier.yaml", c => new LiftBarrierTask(c)),
        new("ThreeRobotsStackCube", "three_robots_stack_cube.yaml", c => new ThreeRobotsStackCubeTask(c)),
        new("CameraAlignment", "camera_alignment.yaml", c => new CameraAlignmentTask(c)),
        new("PlaceFood", "place_food.yaml", c => new PlaceFoodTask(c)),
        new("LongPipelineDelivery", "long_pipeline_delivery.yaml", c => new LongPipelineDeliveryTask(c)),
        new("TakePhoto", "take_photo.yaml", c => new TakePhotoTask(c)),
        new("PickMeat", "pick_meat.yaml", c => new PickMeatTask(c)),
        new("StackCube", "stack_cube.yaml", c => new StackCubeTask(c)),
        new("TwoRobotsStackCube", "two_robots_stack_cube.yaml", c => new TwoRobotsStackCubeTask(c)),
        new("PassShoe", "pass_shoe.yaml", c => new PassShoeTask(c)),
        new("StrikeCube", "strike_cube.yaml", c => new StrikeCubeTask(c)),
    ];

    public static IReadOnlyList<TaskEntry> All => Entries;

    public static TaskEntry Get(string name)
    {
        string n = name.EndsWith("-rf", StringComparison.Ordinal) ? name[..^3] : name;
        return Entries.FirstOrDefault(e => string.Equals(e.Name, n, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"unknown task '{name}'; known tasks: {string.Join(", ", Entries.Select(e => e.Name))}");
    }

    /// <summary>Loads the task's YAML, from <paramref name="configFile"/> when given, else configs/table/NAME.yaml.</summary>
    public static (TaskConfig Config, TaskLogic Logic) Load(string name, string? configFile = null)
    {
        var entry = Get(name);
        var config = TaskConfigLoader.Load(configFile ?? Path.Combine(ProjectPaths.TableConfigDir, entry.ConfigFile));
        if (!string.Equals(config.Name, entry.Name, StringComparison.OrdinalIgnoreCase))
            throw new ConfigException($"{config.SourceFile}: name: expected '{entry.Name}' for task {name}, got '{config.Name}'");
        return (config, entry.CreateLogic(config));
    }
}

/// <summary>Finds the repository's configs/ folder: $ROBOFACTORY_ROOT, else the nearest parent of the working or program directory.</summary>
public static class ProjectPaths
{
    public static string Root { get; } = FindRoot();

    public static string TableConfigDir => Path.Combine(Root, "configs", "table");

    private static string FindRoot()
    {
        string? env = Environment.GetEnvironmentVariable("ROBOFACTORY_ROOT");
        if (!string.IsNullOrEmpty(env) && Directory.Exists(Path.Combine(env, "configs"))) return env;
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
            for (var d = new DirectoryInfo(start); d is not null; d = d.Parent)
                if (Directory.Exists(Path.Combine(d.FullName, "configs", "table"))) return d.FullName;
        return Directory.GetCurrentDirectory();
    }
}
