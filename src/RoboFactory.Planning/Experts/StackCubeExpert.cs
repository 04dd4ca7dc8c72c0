using RoboFactory.Sim.Math;

namespace RoboFactory.Planning;

/// <summary>
/// StackCube (upstream solution): top-down grasp of cube A at its centre (fingers across a pair of faces), lift,
/// carry it over cube B, lower it until it rests on B, open, and retreat upwards.
/// </summary>
public sealed class StackCubeExpert : TaskExpert
{
    public const double ApproachHeight = 0.06, CarryClearance = 0.05, PlaceClearance = 0.003, RetreatHeight = 0.08;

    protected override void Solve(MotionExecutor ex)
    {
        var env = ex.Env;
        var a = env.ObjectPose("cubeA");
        double stack = env.Task.Success["stack_height"];
        var grasp = new Pose(a.P, CubeGrasp(a, ex.CommandedTcp(0).Q.Rotate(Vec3.UnitY)));

        ex.MoveTo((0, grasp with { P = a.P + Up(ApproachHeight) }));
        ex.MoveTo((0, grasp));
        ex.Gripper(close: true, 0);
        // lift and carry in one straight line: A clears B because it is already high when it gets near it
        var b = env.ObjectPose("cubeB").P;
        ex.MoveTo((0, grasp with { P = b + Up(stack + CarryClearance) }));
        ex.MoveTo((0, grasp with { P = b + Up(stack + PlaceClearance) }));
        ex.Gripper(close: false, 0);
        ex.MoveTo((0, grasp with { P = b + Up(stack + RetreatHeight) }));
    }

    public static Vec3 Up(double h) => new(0, 0, h);

    /// <summary>
    /// Top-down grasp of a cube: the fingers close across whichever pair of side faces needs the least wrist rotation
    /// from <paramref name="preferY"/> (the current TCP y axis), as upstream's OBB grasp breaks ties.
    /// </summary>
    public static Quat CubeGrasp(Pose cube, Vec3 preferY)
    {
        var fx = cube.Q.Rotate(Vec3.UnitX);
        var fy = cube.Q.Rotate(Vec3.UnitY);
        var flatX = new Vec3(fx.X, fx.Y, 0).Normalized();
        var flatY = new Vec3(fy.X, fy.Y, 0).Normalized();
        var closing = System.Math.Abs(flatX.Dot(preferY)) >= System.Math.Abs(flatY.Dot(preferY)) ? flatX : flatY;
        return TopDownGrasp(closing, preferY);
    }
}
