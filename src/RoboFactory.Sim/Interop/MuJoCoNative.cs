using System.Runtime.InteropServices;

namespace RoboFactory.Sim.Interop;

/// <summary>rect passed by value to mjr_render / mjr_readPixels (a 4-int struct, not four ints).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct MjrRect
{
    public int Left, Bottom, Width, Height;
}

/// <summary>P/Invoke declarations for Debian's libmujoco 2.2.2. Raw pointers only; safe wrappers live in MjModel/MjData.</summary>
internal static unsafe partial class MuJoCoNative
{
    public const string Lib = "libmujoco.so.2.2.2";

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial IntPtr mj_loadXML(string filename, IntPtr vfs, byte* error, int errorSize);

    [LibraryImport(Lib)] public static partial IntPtr mj_makeData(IntPtr m);
    [LibraryImport(Lib)] public static partial void mj_deleteData(IntPtr d);
    [LibraryImport(Lib)] public static partial void mj_deleteModel(IntPtr m);
    [LibraryImport(Lib)] public static partial void mj_resetData(IntPtr m, IntPtr d);
    [LibraryImport(Lib)] public static partial void mj_step(IntPtr m, IntPtr d);
    [LibraryImport(Lib)] public static partial void mj_step1(IntPtr m, IntPtr d);
    [LibraryImport(Lib)] public static partial void mj_step2(IntPtr m, IntPtr d);
    [LibraryImport(Lib)] public static partial void mj_forward(IntPtr m, IntPtr d);
    [LibraryImport(Lib)] public static partial void mj_jacSite(IntPtr m, IntPtr d, double* jacp, double* jacr, int site);
    [LibraryImport(Lib)] public static partial void mj_jacBody(IntPtr m, IntPtr d, double* jacp, double* jacr, int body);
    [LibraryImport(Lib)] public static partial void mj_contactForce(IntPtr m, IntPtr d, int id, double* result);
    [LibraryImport(Lib)] public static partial int mj_version();

    [LibraryImport(Lib, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int mj_name2id(IntPtr m, int type, string name);
    [LibraryImport(Lib)] public static partial IntPtr mj_id2name(IntPtr m, int type, int id);

    // visualisation + rendering
    [LibraryImport(Lib)] public static partial void mjv_defaultOption(IntPtr opt);
    [LibraryImport(Lib)] public static partial void mjv_defaultCamera(IntPtr cam);
    [LibraryImport(Lib)] public static partial void mjv_defaultScene(IntPtr scn);
    [LibraryImport(Lib)] public static partial void mjv_makeScene(IntPtr m, IntPtr scn, int maxgeom);
    [LibraryImport(Lib)] public static partial void mjv_freeScene(IntPtr scn);
    [LibraryImport(Lib)]
    public static partial void mjv_updateScene(IntPtr m, IntPtr d, IntPtr opt, IntPtr pert, IntPtr cam, int catmask, IntPtr scn);
    [LibraryImport(Lib)] public static partial void mjr_defaultContext(IntPtr con);
    [LibraryImport(Lib)] public static partial void mjr_makeContext(IntPtr m, IntPtr con, int fontscale);
    [LibraryImport(Lib)] public static partial void mjr_freeContext(IntPtr con);
    [LibraryImport(Lib)] public static partial void mjr_setBuffer(int framebuffer, IntPtr con);
    [LibraryImport(Lib)] public static partial void mjr_render(MjrRect viewport, IntPtr scn, IntPtr con);
    [LibraryImport(Lib)] public static partial void mjr_readPixels(byte* rgb, float* depth, MjrRect viewport, IntPtr con);

    /// <summary>Address of an exported global (e.g. the mju_user_warning function pointer).</summary>
    public static IntPtr GlobalAddress(string symbol) =>
        NativeLibrary.GetExport(NativeLibrary.Load(Lib, typeof(MuJoCoNative).Assembly, null), symbol);
}

/// <summary>The few EGL 1.5 calls needed for a surfaceless (headless) OpenGL context with Mesa.</summary>
internal static partial class EglNative
{
    public const string Lib = "libEGL.so.1";
    public const int EGL_PLATFORM_SURFACELESS_MESA = 0x31DD;
    public const int EGL_SURFACE_TYPE = 0x3033, EGL_PBUFFER_BIT = 0x0001, EGL_RENDERABLE_TYPE = 0x3040,
        EGL_OPENGL_BIT = 0x0008, EGL_RED_SIZE = 0x3024, EGL_GREEN_SIZE = 0x3023, EGL_BLUE_SIZE = 0x3022,
        EGL_ALPHA_SIZE = 0x3021, EGL_DEPTH_SIZE = 0x3025, EGL_STENCIL_SIZE = 0x3026, EGL_NONE = 0x3038,
        EGL_OPENGL_API = 0x30A2;

    [LibraryImport(Lib)] public static partial IntPtr eglGetPlatformDisplay(int platform, IntPtr nativeDisplay, IntPtr attribs);
    [LibraryImport(Lib)] public static partial int eglInitialize(IntPtr display, out int major, out int minor);
    [LibraryImport(Lib)]
    public static partial int eglChooseConfig(IntPtr display, int[] attribs, IntPtr[] configs, int configSize, out int numConfig);
    [LibraryImport(Lib)] public static partial int eglBindAPI(int api);
    [LibraryImport(Lib)] public static partial IntPtr eglCreateContext(IntPtr display, IntPtr config, IntPtr shareContext, IntPtr attribs);
    [LibraryImport(Lib)] public static partial int eglMakeCurrent(IntPtr display, IntPtr draw, IntPtr read, IntPtr context);
    [LibraryImport(Lib)] public static partial int eglDestroyContext(IntPtr display, IntPtr context);
    [LibraryImport(Lib)] public static partial int eglGetError();
}
