using System.Runtime.InteropServices;

namespace RoboFactory.Sim.Interop;

/// <summary>
/// Headless MuJoCo renderer: owns a surfaceless EGL OpenGL context (Mesa), an mjvScene and an mjrContext
/// for one model. Several renderers may live in one process, one per worker; each call makes its context
/// current on the calling thread and releases it afterwards, so a renderer may move between threads
/// (but must not be used by two threads at once).
/// </summary>
public sealed unsafe class MjRenderer : IDisposable
{
    private static readonly object DisplayGate = new();
    private static IntPtr display;

    private readonly MjModel model;
    private IntPtr context, config;
    private IntPtr scene, option, camera, mjrContext;
    private readonly object gate = new();

    public int MaxWidth { get; }
    public int MaxHeight { get; }

    /// <param name="maxWidth">must not exceed the model's &lt;visual&gt;&lt;global offwidth&gt;</param>
    /// <param name="maxHeight">must not exceed the model's &lt;visual&gt;&lt;global offheight&gt;</param>
    public MjRenderer(MjModel model, int maxWidth, int maxHeight, int maxGeoms = 2000)
    {
        this.model = model;
        MaxWidth = maxWidth;
        MaxHeight = maxHeight;
        IntPtr dpy = Display();
        int[] attribs =
        [
            EglNative.EGL_SURFACE_TYPE, EglNative.EGL_PBUFFER_BIT, EglNative.EGL_RENDERABLE_TYPE, EglNative.EGL_OPENGL_BIT,
            EglNative.EGL_RED_SIZE, 8, EglNative.EGL_GREEN_SIZE, 8, EglNative.EGL_BLUE_SIZE, 8, EglNative.EGL_ALPHA_SIZE, 8,
            EglNative.EGL_DEPTH_SIZE, 24, EglNative.EGL_STENCIL_SIZE, 8, EglNative.EGL_NONE,
        ];
        var configs = new IntPtr[1];
        if (EglNative.eglChooseConfig(dpy, attribs, configs, 1, out int n) == 0 || n < 1)
            throw new MuJoCoException($"EGL: no RGBA8/depth24/stencil8 pbuffer config (error 0x{EglNative.eglGetError():X})");
        config = configs[0];
        if (EglNative.eglBindAPI(EglNative.EGL_OPENGL_API) == 0)
            throw new MuJoCoException($"EGL: eglBindAPI(OpenGL) failed (error 0x{EglNative.eglGetError():X})");
        context = EglNative.eglCreateContext(dpy, config, IntPtr.Zero, IntPtr.Zero);
        if (context == IntPtr.Zero)
            throw new MuJoCoException($"EGL: eglCreateContext failed (error 0x{EglNative.eglGetError():X})");

        scene = Alloc(MjLayout.SizeOf_mjvScene);
        option = Alloc(MjLayout.SizeOf_mjvOption);
        camera = Alloc(MjLayout.SizeOf_mjvCamera);
        mjrContext = Alloc(MjLayout.SizeOf_mjrContext);
        MuJoCoNative.mjv_defaultScene(scene);
        MuJoCoNative.mjv_defaultOption(option);
        MuJoCoNative.mjv_defaultCamera(camera);
        MuJoCoNative.mjv_makeScene(model.Ptr, scene, maxGeoms);
        // Shadows and reflections cost most of the software-rasteriser time and add nothing for learning.
        byte* flags = (byte*)scene + MjLayout.Scene_flags;
        flags[MjLayout.mjRND_SHADOW] = 0;
        flags[MjLayout.mjRND_REFLECTION] = 0;
        flags[MjLayout.mjRND_SKYBOX] = 0;

        MakeCurrent();
        try
        {
            MuJoCoNative.mjr_defaultContext(mjrContext);
            MuJoCoNative.mjr_makeContext(model.Ptr, mjrContext, MjLayout.mjFONTSCALE_100);
            MuJoCoNative.mjr_setBuffer(MjLayout.mjFB_OFFSCREEN, mjrContext);
            MuJoCoCallbacks.ThrowIfError("creating the MuJoCo render context");
        }
        finally { ReleaseCurrent(); }
    }

    private static IntPtr Alloc(int size)
    {
        IntPtr p = (IntPtr)NativeMemory.AllocZeroed((nuint)size);
        return p;
    }

    private static IntPtr Display()
    {
        lock (DisplayGate)
        {
            if (display != IntPtr.Zero) return display;
            // EGL_PLATFORM env vars set from .NET do not reach native getenv, so ask for the platform explicitly.
            IntPtr dpy = EglNative.eglGetPlatformDisplay(EglNative.EGL_PLATFORM_SURFACELESS_MESA, IntPtr.Zero, IntPtr.Zero);
            if (dpy == IntPtr.Zero)
                throw new MuJoCoException("EGL: no surfaceless Mesa display (is libegl-mesa0 installed? run scripts/setup.sh)");
            if (EglNative.eglInitialize(dpy, out _, out _) == 0)
                throw new MuJoCoException($"EGL: eglInitialize failed (error 0x{EglNative.eglGetError():X})");
            display = dpy;
            return dpy;
        }
    }

    private void MakeCurrent()
    {
        if (EglNative.eglMakeCurrent(display, IntPtr.Zero, IntPtr.Zero, context) == 0)
            throw new MuJoCoException($"EGL: eglMakeCurrent failed (error 0x{EglNative.eglGetError():X})");
    }

    private static void ReleaseCurrent() => EglNative.eglMakeCurrent(display, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero);

    /// <summary>One render request: a fixed camera and its image size; result goes to <see cref="Rgb"/> (H·W·3, top row first).</summary>
    public sealed class Request(int cameraId, int width, int height)
    {
        public int CameraId { get; } = cameraId;
        public int Width { get; } = width;
        public int Height { get; } = height;
        public byte[] Rgb { get; set; } = new byte[width * height * 3];
    }

    /// <summary>Renders each requested fixed camera for the state in <paramref name="data"/>.</summary>
    public void Render(MjData data, IReadOnlyList<Request> requests)
    {
        ObjectDisposedException.ThrowIf(context == IntPtr.Zero, this);
        if (!ReferenceEquals(data.Model, model)) throw new ArgumentException("data belongs to another model", nameof(data));
        lock (gate)
        {
            MakeCurrent();
            try
            {
                foreach (var r in requests)
                {
                    if (r.Width > MaxWidth || r.Height > MaxHeight)
                        throw new ArgumentException($"image {r.Width}x{r.Height} exceeds the offscreen buffer {MaxWidth}x{MaxHeight}");
                    if ((uint)r.CameraId >= (uint)model.ncam)
                        throw new ArgumentOutOfRangeException(nameof(requests), $"camera id {r.CameraId} not in model");
                    if (r.Rgb.Length != r.Width * r.Height * 3) r.Rgb = new byte[r.Width * r.Height * 3];
                    *(int*)((byte*)camera + MjLayout.Camera_type) = MjLayout.mjCAMERA_FIXED;
                    *(int*)((byte*)camera + MjLayout.Camera_fixedcamid) = r.CameraId;
                    MuJoCoNative.mjv_updateScene(model.Ptr, data.Ptr, option, IntPtr.Zero, camera, MjLayout.mjCAT_ALL, scene);
                    var rect = new MjrRect { Left = 0, Bottom = 0, Width = r.Width, Height = r.Height };
                    MuJoCoNative.mjr_render(rect, scene, mjrContext);
                    fixed (byte* rgb = r.Rgb) MuJoCoNative.mjr_readPixels(rgb, null, rect, mjrContext);
                    FlipRows(r.Rgb, r.Width, r.Height);
                }
                MuJoCoCallbacks.ThrowIfError("rendering");
            }
            finally { ReleaseCurrent(); }
        }
    }

    /// <summary>Convenience: render one camera to a new top-down RGB array.</summary>
    public byte[] Render(MjData data, int cameraId, int width, int height)
    {
        var req = new Request(cameraId, width, height);
        Render(data, [req]);
        return req.Rgb;
    }

    // OpenGL returns rows bottom-up; images are stored top row first.
    private static void FlipRows(byte[] rgb, int width, int height)
    {
        int stride = width * 3;
        Span<byte> tmp = stackalloc byte[stride];
        for (int top = 0, bottom = height - 1; top < bottom; top++, bottom--)
        {
            var a = rgb.AsSpan(top * stride, stride);
            var b = rgb.AsSpan(bottom * stride, stride);
            a.CopyTo(tmp);
            b.CopyTo(a);
            tmp.CopyTo(b);
        }
    }

    public void Dispose()
    {
        lock (gate)
        {
            if (context == IntPtr.Zero) return;
            MakeCurrent();
            MuJoCoNative.mjr_freeContext(mjrContext);
            ReleaseCurrent();
            MuJoCoNative.mjv_freeScene(scene);
            EglNative.eglDestroyContext(display, context);
            NativeMemory.Free((void*)scene);
            NativeMemory.Free((void*)option);
            NativeMemory.Free((void*)camera);
            NativeMemory.Free((void*)mjrContext);
            context = IntPtr.Zero;
        }
        GC.SuppressFinalize(this);
    }
}
