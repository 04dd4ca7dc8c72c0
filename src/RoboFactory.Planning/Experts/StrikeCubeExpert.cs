using RoboFactory.Sim.Math;
using RoboFactory.Sim.Tasks;

namespace RoboFactory.Planning;

/// <summary>
/// StrikeCube (upstream solution): grasp the hammer's handle from above (approach, descend, close), lift it, carry it
/// so that its striking face is a little above the centre of the cube's top, bring the face down onto the cube and hold.
/// The hammer is carried without turning it, so each move is the TCP translated by the offset still left between the
/// striking face (measured where it really is in the hand) and its target.
/// </summary>
public sealed class StrikeCubeExpert : TaskExpert
{
    public const double ApproachHeight = 0.08, LiftHeight = 0.2, PreStrikeHeight = 0.05, StrikeClearance = 0.002;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var logic = (StrikeCubeTask)env.Logic;
        var hammer = env.ObjectPose("hammer");
        var point = hammer.Transform(env.Task.Object("hammer").GraspPoints[0]);
        var grasp = new Pose(point, TopDownGrasp(hammer.Q.Rotate(Vec3.UnitY), ex.CommandedTcp(0).Q.Rotate(Vec3.UnitY)));

        ex.MoveTo((0, grasp with { P = point + new Vec3(0, 0, ApproachHeight) }));
        ex.MoveTo((0, grasp));
        ex.Gripper(close: true, 0);
        ex.MoveTo((0, grasp with { P = point + new Vec3(0, 0, LiftHeight) }));

        var top = env.ObjectPose("cube").P + new Vec3(0, 0, env.Task.Success["cube_half_size"]);
        void BringFaceTo(Vec3 target)
        {
            var tcp = ex.CommandedTcp(0);
            ex.MoveTo((0, tcp with { P = tcp.P + (target - logic.StrikePoint(env)) }));
        }
        BringFaceTo(top + new Vec3(0, 0, PreStrikeHeight));
        BringFaceTo(top + new Vec3(0, 0, StrikeClearance));
        ex.Hold(20);
    }
}
