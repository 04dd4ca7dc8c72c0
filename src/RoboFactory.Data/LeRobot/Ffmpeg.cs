using System.ComponentModel;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RoboFactory.Core.Errors;

namespace RoboFactory.Data.LeRobot;

/// <summary>
/// How camera streams are encoded: H.264 (libx264), a keyframe every <see cref="Gop"/> frames, no B-frames, BT.601
/// limited range tagged in the stream. yuv420p (the default) is what every LeRobot decoder (torchcodec, PyAV,
/// browsers, NVDEC) reads; chroma subsampling bounds its fidelity (≈ 40 dB PSNR on rendered frames, errors of tens of
/// levels only on sharp colour edges). yuv444p with CRF 0 is lossless in YUV (RGB round trip within ±2 levels) but is
/// H.264's High 4:4:4 profile, which FFmpeg's software decoder reads and hardware decoders and browsers do not.
/// </summary>
public sealed record LeRobotVideoEncoding
{
    public const string Encoder = "libx264";
    /// <summary>The stream's codec name, as info.json's video.codec and ffprobe give it.</summary>
    public const string Codec = "h264";
    public static readonly IReadOnlyList<string> PixelFormats = ["yuv420p", "yuv444p"];

    /// <summary>x264 constant rate factor: 0 = lossless (in YUV), 18 ≈ visually lossless (default), LeRobot's own default is 30.</summary>
    public int Crf { get; init; } = 18;
    public string PixelFormat { get; init; } = "yuv420p";
    /// <summary>Keyframe interval; LeRobot's default 2 keeps random access cheap for its per-frame decoders.</summary>
    public int Gop { get; init; } = 2;

    public void Validate()
    {
        if (Crf is < 0 or > 51) throw new ArgumentException($"--crf {Crf}: expected 0..51 (x264's range; 0 is lossless)");
        if (!PixelFormats.Contains(PixelFormat)) throw new ArgumentException($"--pix-fmt {PixelFormat}: expected one of {string.Join(", ", PixelFormats)}");
        if (Gop < 1) throw new ArgumentException($"GOP {Gop}: expected at least 1");
    }
}

/// <summary>
/// Debian's ffmpeg/ffprobe binaries as subprocesses: raw rgb24 frames in on stdin for encoding, raw rgb24 out on
/// stdout for decoding. Errors carry the tail of ffmpeg's stderr.
/// </summary>
public static class Ffmpeg
{
    public static string FfmpegPath { get; } = File.Exists("/usr/bin/ffmpeg") ? "/usr/bin/ffmpeg" : "ffmpeg";
    public static string FfprobePath { get; } = File.Exists("/usr/bin/ffprobe") ? "/usr/bin/ffprobe" : "ffprobe";

    /// <summary>Encodes <paramref name="frames"/> HWC rgb24 frames into one MP4 at a constant <paramref name="fps"/> (frame k at pts k/fps).</summary>
    public static void Encode(string outPath, ReadOnlyMemory<byte> frames, int width, int height, int fps, LeRobotVideoEncoding enc)
    {
        if (width % 2 != 0 || height % 2 != 0) throw new ArgumentException($"{outPath}: H.264 needs even frame sizes, got {width}x{height}");
        string[] args =
        [
            "-nostdin", "-v", "error", "-y",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", $"{width}x{height}", "-framerate", Inv(fps), "-i", "pipe:0",
            "-c:v", LeRobotVideoEncoding.Encoder, "-pix_fmt", enc.PixelFormat, "-crf", Inv(enc.Crf), "-g", Inv(enc.Gop), "-bf", "0",
            // swscale converts RGB with BT.601 limited range; tag the stream so decoders that honour tags invert the same matrix.
            "-colorspace", "smpte170m", "-color_primaries", "smpte170m", "-color_trc", "smpte170m", "-color_range", "tv",
            "-an", "-movflags", "+faststart", "-f", "mp4", outPath,
        ];
        Run(FfmpegPath, args, stdin: frames, expectedStdout: 0, what: $"encoding {outPath}");
    }

    /// <summary>Joins MP4s of one camera, in order, by stream copy (the concat demuxer); part k starts where part k−1 ends.</summary>
    public static void Concat(IReadOnlyList<string> parts, string outPath)
    {
        string list = outPath + ".concat.txt";
        // The concat demuxer's list syntax: file 'path', with ' written as '\''.
        File.WriteAllLines(list, parts.Select(p => $"file '{Path.GetFullPath(p).Replace("'", @"'\''")}'"));
        try
        {
            Run(FfmpegPath, ["-nostdin", "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", list, "-c", "copy",
                "-movflags", "+faststart", "-f", "mp4", outPath], stdin: null, expectedStdout: 0, what: $"joining {parts.Count} episode(s) into {outPath}");
        }
        finally
        {
            File.Delete(list);
        }
    }

    /// <summary>Frames of the first video stream as the container records them (ffprobe's nb_frames).</summary>
    public static int CountFrames(string path)
    {
        var output = Run(FfprobePath, ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=nb_frames", "-of", "csv=p=0", path],
            stdin: null, expectedStdout: -1, what: $"probing {path}");
        string text = Encoding.ASCII.GetString(output).Trim();
        return int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n
            : throw new InputFormatException($"{path}: ffprobe reports no frame count for the video stream (got \"{text}\")");
    }

    /// <summary>
    /// Decodes <paramref name="frames"/> frames starting at time <paramref name="fromSeconds"/> as HWC rgb24. The seek
    /// lands half a frame early so float rounding of the start time can never skip the first frame; ffmpeg's accurate
    /// seek then drops every frame before it.
    /// </summary>
    public static byte[] DecodeSegment(string path, double fromSeconds, int frames, int width, int height, int fps)
    {
        double start = Math.Max(0, fromSeconds - 0.5 / fps);
        long expected = (long)frames * width * height * 3;
        string[] args =
        [
            "-nostdin", "-v", "error", "-ss", start.ToString("R", CultureInfo.InvariantCulture), "-i", path,
            "-map", "0:v:0", "-frames:v", Inv(frames), "-fps_mode", "passthrough",
            "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
        ];
        var bytes = Run(FfmpegPath, args, stdin: null, expectedStdout: expected, what: $"decoding {path} from {fromSeconds:0.###} s");
        if (bytes.LongLength != expected)
            throw new InputFormatException(FormattableString.Invariant(
                $"{path}: decoded {bytes.LongLength / (width * height * 3)} of {frames} frames from t={fromSeconds:0.######} s ({width}x{height}); the episode metadata and the video disagree"));
        return bytes;
    }

    private static string Inv(int v) => v.ToString(CultureInfo.InvariantCulture);

    /// <summary>Runs a tool; stdin is written and stdout read concurrently. expectedStdout: bytes to preallocate (0 = none expected, -1 = unknown).</summary>
    private static byte[] Run(string exe, IReadOnlyList<string> args, ReadOnlyMemory<byte>? stdin, long expectedStdout, string what)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardInput = stdin is not null, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process p;
        try
        {
            p = Process.Start(psi) ?? throw new FileNotFoundException($"{exe} did not start");
        }
        catch (Win32Exception e)
        {
            throw new FileNotFoundException($"{exe} not found ({e.Message}); install Debian's ffmpeg package (scripts/setup.sh does)", exe, e);
        }
        using (p)
        {
            var stderr = p.StandardError.ReadToEndAsync();
            var stdout = Task.Run(() =>
            {
                var ms = expectedStdout > 0 ? new MemoryStream((int)Math.Min(expectedStdout, int.MaxValue)) : new MemoryStream();
                p.StandardOutput.BaseStream.CopyTo(ms);
                return ms.ToArray();
            });
            IOException? pipeError = null;
            if (stdin is { } input)
            {
                try
                {
                    using var s = p.StandardInput.BaseStream;
                    s.Write(input.Span);
                }
                catch (IOException e)
                {
                    pipeError = e; // ffmpeg exited early; its stderr below says why
                }
            }
            var output = stdout.GetAwaiter().GetResult();
            p.WaitForExit();
            string err = stderr.GetAwaiter().GetResult().Trim();
            if (p.ExitCode != 0 || pipeError is not null)
            {
                string tail = err.Length > 2000 ? "…" + err[^2000..] : err;
                throw new InputFormatException($"{Path.GetFileName(exe)} failed {what} (exit code {p.ExitCode}): {(tail.Length > 0 ? tail : pipeError?.Message)}");
            }
            return output;
        }
    }
}
