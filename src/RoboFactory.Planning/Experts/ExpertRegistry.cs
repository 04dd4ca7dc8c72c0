namespace RoboFactory.Planning;

/// <summary>Maps task names to their experts.</summary>
public static class ExpertRegistry
{
    // One line per task (name as in TaskRegistry).
    private static readonly Dictionary<string, Func<TaskExpert>> Experts = new()
    {
        ["LiftBarrier"] = () => new LiftBarrierExpert(),
        ["ThreeRobotsStackCube"] = () => new ThreeRobotsStackCubeExpert(),
        ["CameraAlignment"] = () => new CameraAlignmentExpert(),
        ["PlaceFood"] = () => new PlaceFoodExpert(),
        ["LongPipelineDelivery"] = () => new LongPipelineDeliveryExpert(),
        ["TakePhoto"] = () => new TakePhotoExpert(),
        ["PickMeat"] = () => new PickMeatExpert(),
        ["StackCube"] = () => new StackCubeExpert(),
        ["TwoRobotsStackCube"] = () => new TwoRobotsStackCubeExpert(),
        ["PassShoe"] = () => new PassShoeExpert(),
        ["StrikeCube"] = () => new StrikeCubeExpert(),
    };

    public static TaskExpert Get(string task)
    {
        string name = Sim.Tasks.TaskRegistry.Get(task).Name;
        return Experts.TryGetValue(name, out var create) ? create() : throw new ArgumentException($"task {name} has no scripted expert yet");
    }
}
