using RoboFactory.Sim.Math;

namespace RoboFactory.Sim.Interop;

/// <summary>One detected contact (subset of mjContact).</summary>
public readonly record struct MjContact(int Geom1, int Geom2, double Dist, Vec3 Pos, Vec3 Normal);

/// <summary>Simulation state for one model (owns an mjData*). Not thread-safe; one per worker.</summary>
public sealed unsafe class MjData : IDisposable
{
    public MjModel Model { get; }
    internal IntPtr Ptr { get; private set; }
    private byte* P => (byte*)Ptr;
    private readonly int[] warningCounts = new int[MjLayout.mjNWARNING];

    public MjData(MjModel model)
    {
        Model = model;
        MuJoCoCallbacks.EnsureInstalled();
        Ptr = MuJoCoNative.mj_makeData(model.Ptr);
        if (Ptr == IntPtr.Zero) throw new MuJoCoException("mj_makeData failed (out of memory?)");
    }

    private double* Doubles(int offset) => *(double**)(P + offset);

    public double Time
    {
        get => *(double*)(P + MjLayout.Data_time);
        set => *(double*)(P + MjLayout.Data_time) = value;
    }

    public Span<double> Qpos => new(Doubles(MjLayout.Data_qpos), Model.nq);
    public Span<double> Qvel => new(Doubles(MjLayout.Data_qvel), Model.nv);
    public Span<double> Qacc => new(Doubles(MjLayout.Data_qacc), Model.nv);
    public Span<double> Ctrl => new(Doubles(MjLayout.Data_ctrl), Model.nu);
    public Span<double> QfrcApplied => new(Doubles(MjLayout.Data_qfrc_applied), Model.nv);
    /// <summary>Bias forces C(q,v) (gravity + Coriolis), valid after mj_step1/mj_forward.</summary>
    public ReadOnlySpan<double> QfrcBias => new(Doubles(MjLayout.Data_qfrc_bias), Model.nv);

    public Vec3 BodyPosition(int body) => Vec3.From(new ReadOnlySpan<double>(Doubles(MjLayout.Data_xpos) + 3 * body, 3));
    public Quat BodyQuat(int body) { double* q = Doubles(MjLayout.Data_xquat) + 4 * body; return new Quat(q[0], q[1], q[2], q[3]); }
    public Pose BodyPose(int body) => new(BodyPosition(body), BodyQuat(body));
    public Vec3 SitePosition(int site) => Vec3.From(new ReadOnlySpan<double>(Doubles(MjLayout.Data_site_xpos) + 3 * site, 3));
    public ReadOnlySpan<double> SiteRotation(int site) => new(Doubles(MjLayout.Data_site_xmat) + 9 * site, 9);
    public Pose SitePose(int site) => new(SitePosition(site), Quat.FromMatrix(SiteRotation(site)));
    public Vec3 GeomPosition(int geom) => Vec3.From(new ReadOnlySpan<double>(Doubles(MjLayout.Data_geom_xpos) + 3 * geom, 3));
    public Vec3 CameraPosition(int cam) => Vec3.From(new ReadOnlySpan<double>(Doubles(MjLayout.Data_cam_xpos) + 3 * cam, 3));
    public ReadOnlySpan<double> CameraRotation(int cam) => new(Doubles(MjLayout.Data_cam_xmat) + 9 * cam, 9);

    /// <summary>Moves a mocap (kinematic) body; takes effect at the next forward/step.</summary>
    public void SetMocapPose(int mocapIndex, Pose pose)
    {
        double* p = Doubles(MjLayout.Data_mocap_pos) + 3 * mocapIndex, q = Doubles(MjLayout.Data_mocap_quat) + 4 * mocapIndex;
        p[0] = pose.P.X; p[1] = pose.P.Y; p[2] = pose.P.Z;
        q[0] = pose.Q.W; q[1] = pose.Q.X; q[2] = pose.Q.Y; q[3] = pose.Q.Z;
    }

    public int ContactCount => *(int*)(P + MjLayout.Data_ncon);

    /// <summary>The i-th mjContact of mjData.contact (checked against ncon).</summary>
    private byte* ContactAt(int i)
    {
        if ((uint)i >= (uint)ContactCount) throw new ArgumentOutOfRangeException(nameof(i));
        return *(byte**)(P + MjLayout.Data_contact) + (long)i * MjLayout.SizeOf_mjContact;
    }

    public MjContact Contact(int i)
    {
        byte* c = ContactAt(i);
        double* pos = (double*)(c + MjLayout.Contact_pos), frame = (double*)(c + MjLayout.Contact_frame);
        return new MjContact(*(int*)(c + MjLayout.Contact_geom1), *(int*)(c + MjLayout.Contact_geom2),
            *(double*)(c + MjLayout.Contact_dist), new Vec3(pos[0], pos[1], pos[2]), new Vec3(frame[0], frame[1], frame[2]));
    }

    /// <summary>Contact force in the contact frame (normal first), mj_contactForce.</summary>
    public double ContactNormalForce(int i)
    {
        if ((uint)i >= (uint)ContactCount) throw new ArgumentOutOfRangeException(nameof(i));
        double* f = stackalloc double[6];
        MuJoCoNative.mj_contactForce(Model.Ptr, Ptr, i, f);
        return f[0];
    }

    /// <summary>The force that contact <paramref name="i"/> applies to its geom2 (by geom1), in world coordinates: the
    /// contact-frame force of mj_contactForce (normal, then the two tangents) mapped through the contact frame, whose
    /// first row is the normal pointing from geom1 to geom2 (a repulsive normal force pushes geom2 along it).</summary>
    public Vec3 ContactForceOnGeom2(int i)
    {
        byte* c = ContactAt(i);
        double* f = stackalloc double[6];
        MuJoCoNative.mj_contactForce(Model.Ptr, Ptr, i, f);
        double* r = (double*)(c + MjLayout.Contact_frame);
        return new Vec3(f[0] * r[0] + f[1] * r[3] + f[2] * r[6], f[0] * r[1] + f[1] * r[4] + f[2] * r[7], f[0] * r[2] + f[1] * r[5] + f[2] * r[8]);
    }

    /// <summary>Site Jacobians (3×nv each, row-major) at the current state (call Forward first if state changed).</summary>
    public void SiteJacobian(int site, Span<double> jacp, Span<double> jacr)
    {
        int n = 3 * Model.nv;
        if (jacp.Length < n || jacr.Length < n) throw new ArgumentException($"Jacobian buffers need {n} entries");
        fixed (double* jp = jacp) fixed (double* jr = jacr) MuJoCoNative.mj_jacSite(Model.Ptr, Ptr, jp, jr, site);
    }

    public void BodyJacobian(int body, Span<double> jacp, Span<double> jacr)
    {
        int n = 3 * Model.nv;
        if (jacp.Length < n || jacr.Length < n) throw new ArgumentException($"Jacobian buffers need {n} entries");
        fixed (double* jp = jacp) fixed (double* jr = jacr) MuJoCoNative.mj_jacBody(Model.Ptr, Ptr, jp, jr, body);
    }

    public void Step() => MuJoCoNative.mj_step(Model.Ptr, Ptr);
    /// <summary>First half of a step: positions, velocities and bias forces; set controls/applied forces after it.</summary>
    public void Step1() => MuJoCoNative.mj_step1(Model.Ptr, Ptr);
    public void Step2() => MuJoCoNative.mj_step2(Model.Ptr, Ptr);
    public void Forward() => MuJoCoNative.mj_forward(Model.Ptr, Ptr);

    public void Reset()
    {
        MuJoCoNative.mj_resetData(Model.Ptr, Ptr);
        System.Array.Clear(warningCounts);
    }

    /// <summary>Raw warning counter (mjData.warning[i].number).</summary>
    public int WarningCount(int warning) =>
        *(int*)(P + MjLayout.Data_warning + warning * MjLayout.SizeOf_mjWarningStat + MjLayout.WarningStat_number);

    /// <summary>
    /// Warnings raised since the last call, as MuJoCo's messages where it printed one and as
    /// "warning N raised K times" otherwise (MuJoCo prints only the first occurrence of each kind).
    /// Also reports MuJoCo errors as exceptions.
    /// </summary>
    public IReadOnlyList<string> TakeWarnings()
    {
        MuJoCoCallbacks.ThrowIfError("MuJoCo");
        var messages = new List<string>(MuJoCoCallbacks.TakeWarnings());
        for (int w = 0; w < MjLayout.mjNWARNING; w++)
        {
            int count = WarningCount(w);
            if (count > warningCounts[w] && messages.Count == 0)
                messages.Add($"{WarningName(w)} raised {count - warningCounts[w]} time(s)");
            warningCounts[w] = count;
        }
        return messages;
    }

    /// <summary>True when MuJoCo found NaN/Inf/huge positions, velocities or accelerations (and reset the state) since
    /// the last TakeWarnings.</summary>
    public bool Unstable => Raised(MjLayout.mjWARN_BADQPOS) || Raised(MjLayout.mjWARN_BADQVEL) || Raised(MjLayout.mjWARN_BADQACC);

    bool Raised(int warning) => WarningCount(warning) > warningCounts[warning];

    private static string WarningName(int w) => w switch
    {
        0 => "mjWARN_INERTIA", 1 => "mjWARN_CONTACTFULL", 2 => "mjWARN_CNSTRFULL", 3 => "mjWARN_VGEOMFULL",
        4 => "mjWARN_BADQPOS", 5 => "mjWARN_BADQVEL", 6 => "mjWARN_BADQACC (simulation unstable)", 7 => "mjWARN_BADCTRL",
        _ => $"warning {w}",
    };

    public void Dispose()
    {
        if (Ptr != IntPtr.Zero) { MuJoCoNative.mj_deleteData(Ptr); Ptr = IntPtr.Zero; }
        GC.SuppressFinalize(this);
    }

    ~MjData() { if (Ptr != IntPtr.Zero) MuJoCoNative.mj_deleteData(Ptr); }
}
