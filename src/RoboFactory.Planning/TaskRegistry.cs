using RoboFactory.Core.Naming;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Tasks;

namespace RoboFactory.Planning;

/// <summary>
/// A registered task: its YAML under configs/table/, its success logic (Sim) and its scripted expert (Planning).
/// It lives here, the lowest layer that sees both.
/// </summary>
public sealed record TaskEntry(string Name, string ConfigFile, Func<TaskConfig, TaskLogic> CreateLogic, Func<TaskExpert> CreateExpert)
{
    public string EnvId => TaskNames.EnvId(Name);

    /// <summary>configs/table/{ConfigFile} of this checkout.</summary>
    public string ConfigPath => Path.Combine(ProjectPaths.TableConfigDir, ConfigFile);
}

/// <summary>The one list of tasks. Names are accepted with or without the -rf suffix ("LiftBarrier", "LiftBarrier-rf").</summary>
public static class TaskRegistry
{
    // One line per task: name, YAML under configs/table/, success logic, expert.
    private static readonly TaskEntry[] Entries =
    [
        new("LiftBarrier", "lift_barrier.yaml", c => new LiftBarrierTask(c), () => new LiftBarrierExpert()),
        new("ThreeRobotsStackCube", "three_robots_stack_cube.yaml", c => new ThreeRobotsStackCubeTask(c), () => new ThreeRobotsStackCubeExpert()),
        new("CameraAlignment", "camera_alignment.yaml", c => new CameraAlignmentTask(c), () => new CameraAlignmentExpert()),
        new("PlaceFood", "place_food.yaml", c => new PlaceFoodTask(c), () => new PlaceFoodExpert()),
        new("LongPipelineDelivery", "long_pipeline_delivery.yaml", c => new LongPipelineDeliveryTask(c), () => new LongPipelineDeliveryExpert()),
        new("TakePhoto", "take_photo.yaml", c => new TakePhotoTask(c), () => new TakePhotoExpert()),
        new("PickMeat", "pick_meat.yaml", c => new PickMeatTask(c), () => new PickMeatExpert()),
        new("StackCube", "stack_cube.yaml", c => new StackCubeTask(c), () => new StackCubeExpert()),
        new("TwoRobotsStackCube", "two_robots_stack_cube.yaml", c => new TwoRobotsStackCubeTask(c), () => new TwoRobotsStackCubeExpert()),
        new("PassShoe", "pass_shoe.yaml", c => new PassShoeTask(c), () => new PassShoeExpert()),
        new("StrikeCube", "strike_cube.yaml", c => new StrikeCubeTask(c), () => new StrikeCubeExpert()),
    ];

    public static IReadOnlyList<TaskEntry> All => Entries;

    public static TaskEntry Get(string name)
    {
        string stem = TaskNames.Stem(name);
        return Entries.FirstOrDefault(e => string.Equals(e.Name, stem, StringComparison.OrdinalIgnoreCase))
            ?? throw new ArgumentException($"unknown task '{name}'; known tasks: {string.Join(", ", Entries.Select(e => e.Name))}");
    }

    /// <summary>Loads the task's YAML, from <paramref name="configFile"/> when given, else configs/table/NAME.yaml.</summary>
    public static (TaskConfig Config, TaskLogic Logic) Load(string name, string? configFile = null)
    {
        var entry = Get(name);
        var config = TaskConfigLoader.Load(configFile ?? entry.ConfigPath);
        if (!string.Equals(config.Name, entry.Name, StringComparison.OrdinalIgnoreCase))
            throw new ConfigException($"{config.SourceFile}: name: expected '{entry.Name}' for task {name}, got '{config.Name}'");
        return (config, entry.CreateLogic(config));
    }

    /// <summary>Creates the environment of a registered task (configs/table/NAME.yaml unless <paramref name="configFile"/> is given).</summary>
    public static MultiAgentEnv CreateEnv(string name, EnvOptions? options = null, string? configFile = null)
    {
        var (config, logic) = Load(name, configFile);
        return new MultiAgentEnv(config, logic, options);
    }

    /// <summary>The success logic of an already loaded config (e.g. one environment per worker).</summary>
    public static TaskLogic CreateLogic(TaskConfig config) => Get(config.Name).CreateLogic(config);

    public static TaskExpert CreateExpert(string name) => Get(name).CreateExpert();
}
