using RoboFactory.Core.Naming;

namespace RoboFactory.Core.Tests;

/// <summary>The names users script against and stores on disk carry: each built in one place, spelled as before.</summary>
public class NamingTests
{
    [Theory]
    [InlineData("LiftBarrier", "LiftBarrier", "LiftBarrier-rf")]
    [InlineData("LiftBarrier-rf", "LiftBarrier", "LiftBarrier-rf")]
    [InlineData("StackCube-rf-rf", "StackCube-rf", "StackCube-rf-rf")]
    public void TaskStemAndEnvId(string task, string stem, string envId)
    {
        Assert.Equal(stem, TaskNames.Stem(task));
        Assert.Equal(envId, TaskNames.EnvId(task));
    }

    [Fact]
    public void StoreAndDatasetNames()
    {
        Assert.Equal("LiftBarrier_Agent0_160.zarr", DataNames.ZarrStore("LiftBarrier-rf", 0, 160));
        Assert.Equal("TakePhoto_Agent3_*.zarr", DataNames.ZarrStorePattern("TakePhoto", 3));
        Assert.Equal("three_robots_stack_cube_agent2", DataNames.RldsDataset("ThreeRobotsStackCube-rf", 2));
        Assert.Equal("lift_barrier_agent0", DataNames.RldsDatasetForStore("data/zarr/LiftBarrier_Agent0_160.zarr/"));
        Assert.Equal("ours", DataNames.RldsDatasetForStore("/tmp/ours.zarr"));
        // a dataset converted from a store is the one training looks for by task
        Assert.Equal(DataNames.RldsDataset("PassShoe", 1), DataNames.RldsDatasetForStore(DataNames.ZarrStore("PassShoe", 1, 50)));
    }

    [Fact]
    public void RunFolderNames()
    {
        Assert.Equal("LiftBarrier_Agent1", RunNames.AgentRun("LiftBarrier-rf", 1));
        Assert.Equal("LiftBarrier-rf_Agent1", RunNames.AgentRunByEnvId("LiftBarrier", 1));
        Assert.Equal(Path.Combine("eval_results", "expert", "LiftBarrier-rf", "r"), RunNames.EvalRun(RunNames.DefaultEvalRoot, "expert", "LiftBarrier", "r"));
        Assert.Equal("20250102_030405", RunNames.EvalRunStamp(new DateTime(2025, 1, 2, 3, 4, 5)));
    }
}
