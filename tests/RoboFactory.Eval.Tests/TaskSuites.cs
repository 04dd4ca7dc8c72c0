using RoboFactory.Planning;

namespace RoboFactory.Eval.Tests;

/// <summary>
/// The end-to-end suites' tasks, taken from the one task table so that a new task is tested without being listed here:
/// one- and two-arm tasks in suite A, three- and four-arm tasks in suite B (two test classes, which xunit runs in parallel).
/// </summary>
public static class TaskSuites
{
    public static TheoryData<string> UpToTwoArms() => Where(agents => agents <= 2);
    public static TheoryData<string> ThreeOrMoreArms() => Where(agents => agents >= 3);

    public static int Agents(string task) => TaskRegistry.Load(task).Config.Agents.Count;

    private static TheoryData<string> Where(Func<int, bool> agents) =>
        new(TaskRegistry.All.Select(t => t.Name).Where(name => agents(Agents(name))));
}
