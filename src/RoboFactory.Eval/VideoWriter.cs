using RoboFactory.Core.Imaging;
using System.Diagnostics;
using RoboFactory.Sim.Config;
using RoboFactory.Sim.Env;

namespace RoboFactory.Eval;

/// <summary>Writes an MP4 (H.264) by piping raw RGB frames into Debian's ffmpeg.</summary>
public sealed class VideoWriter : IDisposable
{
    private readonly Process process;
    private readonly Stream stdin;
    private bool finished;
    public string Path { get; }
    public int Width { get; }
    public int Height { get; }

    public VideoWriter(string path, (int Width, int Height) size, int fps)
    {
        Path = path;
        (Width, Height) = size;
        if (Width % 2 != 0 || Height % 2 != 0) throw new ArgumentException($"video size must be even, got {Width}x{Height}");
        var psi = new ProcessStartInfo("ffmpeg")
        {
            RedirectStandardInput = true, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        foreach (var a in new[] { "-y", "-loglevel", "error", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{Width}x{Height}",
                     "-r", fps.ToString(System.Globalization.CultureInfo.InvariantCulture), "-i", "-", "-c:v", "libx264", "-preset", "veryfast",
                     "-pix_fmt", "yuv420p", "-crf", "23", "-movflags", "+faststart", path })
            psi.ArgumentList.Add(a);
        try { process = Process.Start(psi) ?? throw new InvalidOperationException("ffmpeg did not start"); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException("ffmpeg is needed for videos (apt-get install ffmpeg, or run scripts/setup.sh): " + e.Message);
        }
        stdin = process.StandardInput.BaseStream;
    }

    public void Write(byte[] rgb)
    {
        if (rgb.Length != Width * Height * 3) throw new ArgumentException($"frame must be {Width}x{Height}x3 bytes");
        stdin.Write(rgb);
    }

    /// <summary>Closes the stream and waits for ffmpeg; throws with ffmpeg's message if encoding failed.</summary>
    public void Finish()
    {
        if (finished) return;
        finished = true;
        stdin.Close();
        string err = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0) throw new InvalidOperationException($"ffmpeg failed writing {Path}: {err.Trim()}");
    }

    public void Dispose()
    {
        if (!finished) { try { Finish(); } catch (InvalidOperationException) { } }
        process.Dispose();
    }
}

/// <summary>
/// Video frame layout: top row the global camera and every agent's head camera; bottom row the human-view
/// render camera (scaled) and every agent's wrist camera.
/// </summary>
public static class VideoFrames
{
    public static (int Width, int Height) Size(MultiAgentEnv env)
    {
        var g = env.Task.Camera(TaskConfig.GlobalCameraName);
        return (g.Width * (env.AgentCount + 1), g.Height * 2);
    }

    public static byte[] Compose(MultiAgentEnv env, Observation obs)
    {
        var (w, h) = Size(env);
        int tw = w / (env.AgentCount + 1), th = h / 2;
        var frame = new byte[w * h * 3];
        Blit(frame, w, obs.Agents[0].GlobalCamera, 0, 0, tw, th);
        Blit(frame, w, env.RenderCamera(TaskConfig.RenderCameraName), 0, th, tw, th);
        for (int i = 0; i < env.AgentCount; i++)
        {
            Blit(frame, w, obs.Agents[i].HeadCamera, (i + 1) * tw, 0, tw, th);
            Blit(frame, w, obs.Agents[i].WristCamera, (i + 1) * tw, th, tw, th);
        }
        return frame;
    }

    // nearest-neighbour copy of an image into a tile of the frame
    private static void Blit(byte[] frame, int frameWidth, Image8? img, int x0, int y0, int tw, int th)
    {
        if (img is null) return;
        for (int y = 0; y < th; y++)
        {
            int sy = y * img.Height / th;
            for (int x = 0; x < tw; x++)
            {
                int sx = x * img.Width / tw;
                int s = 3 * (sy * img.Width + sx), d = 3 * ((y0 + y) * frameWidth + x0 + x);
                frame[d] = img.Pixels[s]; frame[d + 1] = img.Pixels[s + 1]; frame[d + 2] = img.Pixels[s + 2];
            }
        }
    }
}
