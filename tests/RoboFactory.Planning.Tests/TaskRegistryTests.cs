using RoboFactory.Core.Naming;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Tasks;

namespace RoboFactory.Planning.Tests;

/// <summary>The one task table is complete: every line has a YAML that loads, a success check and an expert, and every YAML has a line.</summary>
public class TaskRegistryTests
{
    public static TheoryData<string> Tasks() => new(TaskRegistry.All.Select(t => t.Name));

    [Theory]
    [MemberData(nameof(Tasks))]
    public void EveryTaskHasAYamlThatLoadsASuccessCheckAndAnExpert(string task)
    {
        var entry = TaskRegistry.Get(task);
        Assert.True(File.Exists(entry.ConfigPath), $"{task}: {entry.ConfigPath} is missing");
        var (config, logic) = TaskRegistry.Load(task);
        Assert.Equal(entry.Name, config.Name);
        Assert.Equal(TaskNames.EnvId(task), config.EnvId);
        Assert.Same(config, logic.Config);
        Assert.NotNull(entry.CreateExpert());

        // the success check evaluates on the scene: named snake_case conditions, none met by the initial layout
        using var env = new MultiAgentEnv(config, logic, new EnvOptions(RenderObservations: false));
        env.Reset(0);
        var evaluation = logic.Evaluate(env);
        Assert.NotEmpty(evaluation.Conditions);
        Assert.All(evaluation.Conditions, c => Assert.Matches("^[a-z][a-z0-9]*(_[a-z0-9]+)*$", c.Name));
        Assert.False(evaluation.Success, $"{task} is solved at reset: {evaluation}");

        // and every step reports it
        var hold = Enumerable.Range(0, env.AgentCount).Select(i => config.Agents[i].InitQpos.Take(7).Append(1.0).ToArray()).ToArray();
        var step = env.Step(hold);
        Assert.NotNull(step.Info.Evaluation);
        Assert.Equal(evaluation.Conditions.Select(c => c.Name), step.Info.Evaluation!.Conditions.Select(c => c.Name));
        Assert.Equal(step.Info.Evaluation.Success, step.Success);
    }

    [Fact]
    public void EveryTableYamlIsRegisteredOnce()
    {
        var files = Directory.GetFiles(ProjectPaths.TableConfigDir, "*.yaml").Select(Path.GetFileName).Order().ToList();
        Assert.NotEmpty(files);
        Assert.Equal(files, TaskRegistry.All.Select(t => t.ConfigFile).Order());
        Assert.Equal(TaskRegistry.All.Count, TaskRegistry.All.Select(t => t.Name).Distinct(StringComparer.OrdinalIgnoreCase).Count());
    }

    [Fact]
    public void NamesAreAcceptedWithOrWithoutTheEnvIdSuffix()
    {
        Assert.Same(TaskRegistry.Get("LiftBarrier"), TaskRegistry.Get("LiftBarrier-rf"));
        Assert.Same(TaskRegistry.Get("LiftBarrier"), TaskRegistry.Get("liftbarrier"));
        var e = Assert.Throws<ArgumentException>(() => TaskRegistry.Get("LiftBarrel"));
        Assert.Contains("StrikeCube", e.Message);
    }
}
