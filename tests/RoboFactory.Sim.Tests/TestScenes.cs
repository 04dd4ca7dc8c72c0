using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;
using RoboFactory.Sim.Tasks;

namespace RoboFactory.Sim.Tests;

/// <summary>Small scenes written for the tests, plus the real LiftBarrier config.</summary>
internal static class TestScenes
{
    public sealed class NeverSucceeds(TaskConfig c) : TaskLogic(c)
    {
        public override TaskEvaluation Evaluate(MultiAgentEnv env) => new(new TaskCondition("never", false));
    }

    public static string RepoFile(params string[] parts) => Path.Combine([ProjectPaths.Root, .. parts]);

    /// <summary>One Panda at x = −0.615 (TCP starts above the origin) and a 4 cm cube on the table at (x, y).</summary>
    public static string OneArmCube(double cubeX = 0, double cubeY = 0, double cubeZ = 0.02, string extra = "") => $$"""
        name: OneArmCube
        env_id: OneArmCube-rf
        instruction: pick up the cube
        max_episode_steps: 400
        physics: {control_freq: 20, substeps: 20}
        agents:
          - base: {p: [-0.615, 0, 0], yaw: 0}
            init_qpos: [0, pi/8, 0, -5*pi/8, 0, 3*pi/4, pi/4, 0.04, 0.04]
        objects:
          - name: cube
            kind: dynamic
            pose: {p: [{{cubeX}}, {{cubeY}}, {{cubeZ}}]}
            mass: 0.05
            friction: 0.5
            geoms:
              - {type: box, size: [0.02, 0.02, 0.02], rgba: [0.1, 0.3, 0.9, 1]}
        cameras:
          - name: head_camera_agent0
            look_at: {eye: [0.4, 0.4, 0.4], target: [0, 0, 0.05]}
          - name: head_camera_global
            look_at: {eye: [0.5, -0.5, 0.6], target: [0, 0, 0]}
          - name: render_camera
            look_at: {eye: [0.6, 0.6, 0.6], target: [0, 0, 0.1]}
        wrist_camera:
          pose: {p: [0.05, 0, 0.04], q: [0, 0.7071068, 0, 0.7071068]}
        success: {}
        {{extra}}
        """;

    public static MultiAgentEnv Env(string yaml, bool render = false)
    {
        var cfg = TaskConfigLoader.Parse(yaml, "test.yaml");
        return new MultiAgentEnv(cfg, new NeverSucceeds(cfg), new EnvOptions(render));
    }
}
