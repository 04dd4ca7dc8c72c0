using System.Runtime.InteropServices;
using System.Text;

namespace RoboFactory.Sim.Interop;

/// <summary>MuJoCo object kinds used for name look-ups (mjtObj).</summary>
public enum MjObject
{
    Body = MjLayout.mjOBJ_BODY,
    Joint = MjLayout.mjOBJ_JOINT,
    Geom = MjLayout.mjOBJ_GEOM,
    Site = MjLayout.mjOBJ_SITE,
    Camera = MjLayout.mjOBJ_CAMERA,
    Actuator = MjLayout.mjOBJ_ACTUATOR,
}

/// <summary>A compiled MuJoCo model (owns an mjModel*). Immutable after loading; share it between MjData instances.</summary>
public sealed unsafe class MjModel : IDisposable
{
    internal IntPtr Ptr { get; private set; }
    private byte* P => (byte*)Ptr;

    private MjModel(IntPtr ptr) => Ptr = ptr;

    /// <summary>Loads MJCF from a file; errors become a <see cref="MuJoCoException"/> carrying MuJoCo's message.</summary>
    public static MjModel FromXmlFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"MJCF file not found: {path}", path);
        MuJoCoCallbacks.EnsureInstalled();
        const int size = 1000;
        byte* err = stackalloc byte[size];
        err[0] = 0;
        IntPtr m = MuJoCoNative.mj_loadXML(path, IntPtr.Zero, err, size);
        if (m == IntPtr.Zero)
            throw new MuJoCoException($"MuJoCo could not load {path}: {Marshal.PtrToStringUTF8((IntPtr)err)}");
        MuJoCoCallbacks.ThrowIfError($"loading {path}");
        return new MjModel(m);
    }

    /// <summary>Loads MJCF text (written to a private temporary file, since mj_loadXML reads files).</summary>
    public static MjModel FromXmlString(string xml)
    {
        string path = Path.Combine(Path.GetTempPath(), $"robofactory-{Environment.ProcessId}-{Guid.NewGuid():N}.xml");
        File.WriteAllText(path, xml, new UTF8Encoding(false));
        try
        {
            try { return FromXmlFile(path); }
            catch (MuJoCoException e) { throw new MuJoCoException(e.Message.Replace(path, "<MJCF string>")); }
        }
        finally { File.Delete(path); }
    }

    private int Int(int offset) => *(int*)(P + offset);
    private T* Array<T>(int offset) where T : unmanaged => *(T**)(P + offset);

    public int nq => Int(MjLayout.Model_nq);
    public int nv => Int(MjLayout.Model_nv);
    public int nu => Int(MjLayout.Model_nu);
    public int nbody => Int(MjLayout.Model_nbody);
    public int njnt => Int(MjLayout.Model_njnt);
    public int ngeom => Int(MjLayout.Model_ngeom);
    public int nsite => Int(MjLayout.Model_nsite);
    public int ncam => Int(MjLayout.Model_ncam);

    /// <summary>Physics timestep (s), mjOption.timestep.</summary>
    public double Timestep => *(double*)(P + MjLayout.Model_opt + MjLayout.Option_timestep);

    /// <summary>Id of a named object, or -1.</summary>
    public int TryId(MjObject kind, string name) => MuJoCoNative.mj_name2id(Ptr, (int)kind, name);

    /// <summary>Id of a named object; throws naming the object when it does not exist.</summary>
    public int Id(MjObject kind, string name)
    {
        int id = TryId(kind, name);
        return id >= 0 ? id : throw new KeyNotFoundException($"model has no {kind.ToString().ToLowerInvariant()} named '{name}'");
    }

    public string? Name(MjObject kind, int id) => Marshal.PtrToStringUTF8(MuJoCoNative.mj_id2name(Ptr, (int)kind, id));

    public int JointQposAddress(int joint) => Array<int>(MjLayout.Model_jnt_qposadr)[Check(joint, njnt)];
    public int JointDofAddress(int joint) => Array<int>(MjLayout.Model_jnt_dofadr)[Check(joint, njnt)];
    public int JointBody(int joint) => Array<int>(MjLayout.Model_jnt_bodyid)[Check(joint, njnt)];
    public (double Lower, double Upper) JointRange(int joint)
    {
        double* r = Array<double>(MjLayout.Model_jnt_range) + 2 * Check(joint, njnt);
        return (r[0], r[1]);
    }
    public int GeomBody(int geom) => Array<int>(MjLayout.Model_geom_bodyid)[Check(geom, ngeom)];
    public int BodyParent(int body) => Array<int>(MjLayout.Model_body_parentid)[Check(body, nbody)];
    public double BodyMass(int body) => Array<double>(MjLayout.Model_body_mass)[Check(body, nbody)];
    public int SiteBody(int site) => Array<int>(MjLayout.Model_site_bodyid)[Check(site, nsite)];
    public double CameraFovy(int cam) => Array<double>(MjLayout.Model_cam_fovy)[Check(cam, ncam)];

    private static int Check(int id, int n) =>
        (uint)id < (uint)n ? id : throw new ArgumentOutOfRangeException(nameof(id), $"id {id} not in [0, {n})");

    public void Dispose()
    {
        if (Ptr != IntPtr.Zero) { MuJoCoNative.mj_deleteModel(Ptr); Ptr = IntPtr.Zero; }
        GC.SuppressFinalize(this);
    }

    ~MjModel() { if (Ptr != IntPtr.Zero) MuJoCoNative.mj_deleteModel(Ptr); }

    /// <summary>MuJoCo's library version as an integer (e.g. 222 for 2.2.2).</summary>
    public static int LibraryVersion => MuJoCoNative.mj_version();
}
