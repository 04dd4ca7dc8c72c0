using RoboFactory.Recording;
using RoboFactory.Data.Zarr;
using RoboFactory.Core.Errors;

namespace RoboFactory.Recording.Tests;

/// <summary>`prepare` end to end on LiftBarrier: stores, determinism across worker counts, resume.</summary>
public class RecordingTests : IDisposable
{
    private readonly string root = Directory.CreateTempSubdirectory("rf-prepare-").FullName;

    public void Dispose() => Directory.Delete(root, recursive: true);

    private static byte[] Bytes(string store, string array) =>
        Directory.GetFiles(Path.Combine(store, array)).Where(f => !Path.GetFileName(f).StartsWith('.')).Order()
            .SelectMany(File.ReadAllBytes).ToArray();

    private static readonly string[] Arrays =
        ["data/head_camera", "data/wrist_camera", "data/global_camera", "data/action", "data/state", "data/tcp_pose", "meta/episode_ends"];

    [Fact]
    public void RecordsOneStorePerAgentIdenticallyWithOneOrTwoWorkers()
    {
        var one = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 2, Workers: 1, OutRoot: Path.Combine(root, "a")));
        var two = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 2, Workers: 2, OutRoot: Path.Combine(root, "b")));
        Assert.Equal(2, one.Stores.Count);
        Assert.EndsWith("LiftBarrier_Agent1_2.zarr", one.Stores[1]);
        for (int agent = 0; agent < 2; agent++)
            foreach (var array in Arrays)
                Assert.True(Bytes(one.Stores[agent], array).AsSpan().SequenceEqual(Bytes(two.Stores[agent], array)), $"agent {agent} {array} differs");

        var ends = ZarrArray<long>.Open(Path.Combine(one.Stores[0], "meta/episode_ends")).ReadAll();
        Assert.Equal(2, ends.Length);
        var head = ZarrArray<byte>.Open(Path.Combine(one.Stores[0], "data/head_camera"));
        Assert.Equal([ends[^1], 3, 240, 320], head.Shape);
        var action = ZarrArray<float>.Open(Path.Combine(one.Stores[0], "data/action")).ReadAll();
        var state = ZarrArray<float>.Open(Path.Combine(one.Stores[0], "data/state")).ReadAll();
        // state is the measured joint state (gripper opening in metres), not a copy of the action
        Assert.NotEqual(action, state);
        Assert.InRange(state[7], 0.07, 0.081);
        Assert.Equal(1f, action[7]);
    }

    [Fact]
    public void ResumeContinuesWithoutDuplicatingEpisodes()
    {
        string reference = Path.Combine(root, "ref"), resumed = Path.Combine(root, "resumed");
        var full = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, OutRoot: reference));

        // an interrupted run: cancel after the first committed episode
        using var cancel = new CancellationTokenSource();
        var progress = new SyncProgress<PrepareProgress>(p => { if (p.Successes >= 1) cancel.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, OutRoot: resumed), progress, cancel: cancel.Token));
        Assert.False(ZarrEpisodeWriter.IsComplete(Path.Combine(resumed, "LiftBarrier_Agent0_3.zarr")), "an interrupted store must not look finished");

        var rest = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, OutRoot: resumed, Resume: true));
        for (int agent = 0; agent < 2; agent++)
            foreach (var array in Arrays)
                Assert.True(Bytes(full.Stores[agent], array).AsSpan().SequenceEqual(Bytes(rest.Stores[agent], array)), $"agent {agent} {array} differs after resume");

        // killed between the agents' commits of episode 2: agent 0's store holds 2 episodes, agent 1's only 1 (its rows
        // and attributes of episode 2 written but not committed). Resume rolls agent 0 back and ends byte-identical.
        string torn = Path.Combine(root, "torn");
        using var cancel2 = new CancellationTokenSource();
        var progress2 = new SyncProgress<PrepareProgress>(p => { if (p.Successes >= 2) cancel2.Cancel(); });
        Assert.ThrowsAny<OperationCanceledException>(() =>
            DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, OutRoot: torn), progress2, cancel: cancel2.Token));
        ZarrEpisodeWriter.RollBack(Path.Combine(torn, "LiftBarrier_Agent1_3.zarr"), 1);
        var log = new List<string>();
        var healed = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, OutRoot: torn, Resume: true), log: log.Add);
        Assert.Contains(log, l => l.Contains("holds 2 episodes, the other agents' stores 1; rolling it back to 1"));
        for (int agent = 0; agent < 2; agent++)
            foreach (var array in Arrays)
                Assert.True(Bytes(full.Stores[agent], array).AsSpan().SequenceEqual(Bytes(healed.Stores[agent], array)), $"agent {agent} {array} differs after a torn resume");
    }

    [Fact]
    public void ShardsMergeIntoTheStoresOfAnUnshardedRun()
    {
        var whole = DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, SeedStart: 5, OutRoot: Path.Combine(root, "whole")));
        string data = Path.Combine(root, "sharded");
        var parts = Enumerable.Range(0, 2).Select(i =>
            DemoRecorder.Run(new PrepareOptions("LiftBarrier", 3, Workers: 1, SeedStart: 5, OutRoot: data, Shard: new Core.Sharding.Shard(i, 2)))).ToList();
        Assert.Equal(2, parts[0].Successes); // seeds 5 and 7
        Assert.Equal(1, parts[1].Successes); // seed 6
        Assert.Contains(Path.Combine("shards", "shard1of2"), parts[1].Stores[0]);

        // one shard alone is refused, naming the missing one
        var copy = Path.Combine(root, "half");
        Directory.CreateDirectory(Path.Combine(copy, DemoRecorder.ShardsFolder));
        Directory.Move(Path.Combine(data, DemoRecorder.ShardsFolder, "shard1of2"), Path.Combine(copy, DemoRecorder.ShardsFolder, "shard1of2"));
        Assert.Contains("shard(s) 1/2 of LiftBarrier missing", Assert.Throws<InputFormatException>(() => DemoRecorder.Merge("LiftBarrier", data)).Message);
        Directory.Move(Path.Combine(copy, DemoRecorder.ShardsFolder, "shard1of2"), Path.Combine(data, DemoRecorder.ShardsFolder, "shard1of2"));

        var merged = DemoRecorder.Merge("LiftBarrier", data);
        Assert.Equal(3, merged.Successes);
        for (int agent = 0; agent < 2; agent++)
        {
            Assert.Equal(Path.GetFileName(whole.Stores[agent]), Path.GetFileName(merged.Stores[agent]));
            foreach (var array in Arrays)
                Assert.True(Bytes(whole.Stores[agent], array).AsSpan().SequenceEqual(Bytes(merged.Stores[agent], array)), $"agent {agent} {array} differs after merge");
            Assert.Equal(File.ReadAllText(Path.Combine(whole.Stores[agent], ".zattrs")), File.ReadAllText(Path.Combine(merged.Stores[agent], ".zattrs")));
        }
        Assert.Contains("--overwrite", Assert.Throws<ArgumentException>(() => DemoRecorder.Merge("LiftBarrier", data)).Message);

        // a shard of another run (other --num) next to them: refused, naming both files
        DemoRecorder.Run(new PrepareOptions("LiftBarrier", 2, Workers: 1, SeedStart: 5, OutRoot: data, Shard: new Core.Sharding.Shard(1, 2)));
        var foreign = Assert.Throws<InputFormatException>(() => DemoRecorder.Merge("LiftBarrier", data, overwrite: true));
        Assert.Contains("shards of different runs", foreign.Message);
        Assert.Contains("LiftBarrier_2_prepare.json", foreign.Message);
    }

    [Fact]
    public void RefusesToOverwriteAFinishedStore()
    {
        DemoRecorder.Run(new PrepareOptions("LiftBarrier", 1, OutRoot: root));
        var e = Assert.Throws<ArgumentException>(() => DemoRecorder.Run(new PrepareOptions("LiftBarrier", 1, OutRoot: root)));
        Assert.Contains("--overwrite", e.Message);
    }
}
