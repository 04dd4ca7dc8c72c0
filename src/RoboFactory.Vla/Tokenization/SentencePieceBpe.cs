using System.Text;
using RoboFactory.Core.Errors;

namespace RoboFactory.Vla.Tokenization;

/// <summary>
/// A direct port of SentencePiece's BPE encoder (bpe_model.cc) for Llama-style models: identity normalisation,
/// dummy "▁" prefix, spaces → "▁", highest-score pair merged first with ties going to the leftmost pair, byte fallback
/// for pieces not in the vocabulary. Needed because Microsoft.ML.Tokenizers 2.0.1 breaks score ties differently on runs
/// of whitespace ("a   b" → ▁a ▁ ▁▁ b instead of SentencePiece's ▁a ▁▁ ▁b); everything else matches it.
/// </summary>
public sealed class SentencePieceBpe
{
    enum PieceType { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 }

    readonly Dictionary<string, int> pieces = new();         // mergeable pieces: normal, user-defined, unused
    readonly Dictionary<string, int> allPieces = new();
    readonly float[] scores;
    readonly int[] byteIds = new int[256];
    readonly string[] userDefined;
    public int UnkId { get; } = 0;
    public int BosId { get; } = 1;
    public int EosId { get; } = 2;
    public bool AddDummyPrefix { get; } = true;
    public bool ByteFallback { get; }
    public IReadOnlyList<string> Pieces { get; }

    public SentencePieceBpe(byte[] model)
    {
        var list = new List<(string Piece, float Score, PieceType Type)>();
        int modelType = 1;
        bool removeExtra = true, escape = true;
        byte[]? charsmap = null;
        string normName = "";
        var r = new ProtoReader(model, 0, model.Length);
        while (r.More)
        {
            var (field, wire) = r.Tag();
            if (field == 1 && wire == 2)
            {
                var (s, e) = r.Span();
                var pr = new ProtoReader(model, s, e);
                string piece = ""; float score = 0; var type = PieceType.Normal;
                while (pr.More)
                {
                    var (f2, w2) = pr.Tag();
                    if (f2 == 1 && w2 == 2) { var (a, b) = pr.Span(); piece = Encoding.UTF8.GetString(model, a, b - a); }
                    else if (f2 == 2 && w2 == 5) score = pr.Float();
                    else if (f2 == 3 && w2 == 0) type = (PieceType)pr.Varint();
                    else pr.Skip(w2);
                }
                list.Add((piece, score, type));
            }
            else if (field == 2 && wire == 2)
            {
                var (s, e) = r.Span();
                var tr = new ProtoReader(model, s, e);
                while (tr.More)
                {
                    var (f2, w2) = tr.Tag();
                    if (f2 == 3 && w2 == 0) modelType = (int)tr.Varint();
                    else if (f2 == 35 && w2 == 0) ByteFallback = tr.Varint() != 0;
                    else if (f2 == 40 && w2 == 0) UnkId = (int)tr.Varint();
                    else if (f2 == 41 && w2 == 0) BosId = (int)(long)tr.Varint();
                    else if (f2 == 42 && w2 == 0) EosId = (int)(long)tr.Varint();
                    else tr.Skip(w2);
                }
            }
            else if (field == 3 && wire == 2)
            {
                var (s, e) = r.Span();
                var nr = new ProtoReader(model, s, e);
                while (nr.More)
                {
                    var (f2, w2) = nr.Tag();
                    if (f2 == 1 && w2 == 2) { var (a, b) = nr.Span(); normName = Encoding.UTF8.GetString(model, a, b - a); }
                    else if (f2 == 2 && w2 == 2) { var (a, b) = nr.Span(); charsmap = model[a..b]; }
                    else if (f2 == 3 && w2 == 0) AddDummyPrefix = nr.Varint() != 0;
                    else if (f2 == 4 && w2 == 0) removeExtra = nr.Varint() != 0;
                    else if (f2 == 5 && w2 == 0) escape = nr.Varint() != 0;
                    else nr.Skip(w2);
                }
            }
            else r.Skip(wire);
        }
        if (modelType != 2) throw new InputFormatException($"tokenizer.model is not a BPE model (model_type {modelType}); Llama uses BPE");
        if (charsmap is { Length: > 0 } || removeExtra || !escape)
            throw new InputFormatException($"tokenizer.model normaliser '{normName}' is not Llama's identity normaliser (need no charsmap, remove_extra_whitespaces=false, escape_whitespaces=true)");
        scores = new float[list.Count];
        Array.Fill(byteIds, -1);
        var ud = new List<string>();
        for (int i = 0; i < list.Count; i++)
        {
            var (p, sc, t) = list[i];
            scores[i] = sc;
            allPieces.TryAdd(p, i);
            if (t is PieceType.Normal or PieceType.UserDefined or PieceType.Unused) pieces.TryAdd(p, i);
            if (t == PieceType.UserDefined) ud.Add(p);
            if (t == PieceType.Byte && p.Length == 6 && p.StartsWith("<0x", StringComparison.Ordinal) && p[5] == '>')
            {
                if (!int.TryParse(p.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out int b))
                    throw new InputFormatException($"tokenizer.model: byte piece {i} is '{p}', expected <0xHH>");
                byteIds[b] = i;
            }
        }
        // found by fuzzing: ids that name no piece, or byte fallback without its 256 byte pieces, made Encode return
        // ids outside the vocabulary instead of refusing the file
        foreach (var (name, id) in new[] { ("unk_id", UnkId), ("bos_id", BosId), ("eos_id", EosId) })
            if (id < 0 || id >= list.Count)
                throw new InputFormatException($"tokenizer.model: {name} is {id}, but the model has {list.Count} pieces");
        if (ByteFallback && Array.IndexOf(byteIds, -1) is int missing and >= 0)
            throw new InputFormatException($"tokenizer.model: byte_fallback is on but the byte piece <0x{missing:X2}> is missing");
        userDefined = ud.OrderByDescending(s => s.Length).ToArray();
        Pieces = list.Select(x => x.Piece).ToArray();
    }

    public static SentencePieceBpe Load(string path) => new(File.ReadAllBytes(path));

    public int PieceToId(string piece) => allPieces.TryGetValue(piece, out var id) ? id : UnkId;

    struct Symbol { public int Start, Length, Prev, Next; public bool Freeze; }

    public List<int> Encode(string text, bool addBos)
    {
        var ids = new List<int>();
        if (addBos) ids.Add(BosId);
        if (text.Length == 0) return ids;
        string norm = (AddDummyPrefix ? "▁" : "") + text.Replace(' ', '▁');

        // Split into characters (code points), user-defined symbols kept whole and frozen.
        var sym = new List<Symbol>();
        for (int i = 0; i < norm.Length;)
        {
            int len = 0; bool freeze = false;
            foreach (var u in userDefined)
                if (string.CompareOrdinal(norm, i, u, 0, u.Length) == 0) { len = u.Length; freeze = true; break; }
            if (len == 0) len = char.IsHighSurrogate(norm[i]) && i + 1 < norm.Length && char.IsLowSurrogate(norm[i + 1]) ? 2 : 1;
            sym.Add(new Symbol { Start = i, Length = len, Prev = sym.Count - 1, Next = i + len < norm.Length ? sym.Count + 1 : -1, Freeze = freeze });
            i += len;
        }
        var s = sym.ToArray();
        // Max score first; equal scores: smallest left index first (SymbolPairComparator).
        var agenda = new PriorityQueue<(int Left, int Right, int Size), (float Score, int Left)>(
            Comparer<(float Score, int Left)>.Create((a, b) => a.Score != b.Score ? b.Score.CompareTo(a.Score) : a.Left.CompareTo(b.Left)));
        void MaybeAdd(int l, int rr)
        {
            if (l < 0 || rr < 0 || s[l].Freeze || s[rr].Freeze) return;
            var piece = norm.Substring(s[l].Start, s[l].Length + s[rr].Length);
            if (pieces.TryGetValue(piece, out var id)) agenda.Enqueue((l, rr, piece.Length), (scores[id], l));
        }
        for (int i = 1; i < s.Length; i++) MaybeAdd(i - 1, i);
        while (agenda.TryDequeue(out var top, out _))
        {
            ref var L = ref s[top.Left];
            ref var R = ref s[top.Right];
            if (L.Length == 0 || R.Length == 0 || L.Length + R.Length != top.Size) continue;
            L.Length += R.Length;
            L.Next = R.Next;
            if (R.Next >= 0) s[R.Next].Prev = top.Left;
            R.Length = 0;
            MaybeAdd(L.Prev, top.Left);
            MaybeAdd(top.Left, L.Next);
        }
        bool prevUnk = false;
        for (int i = 0; i != -1; i = s[i].Next)
        {
            var piece = norm.Substring(s[i].Start, s[i].Length);
            if (pieces.TryGetValue(piece, out var id)) { ids.Add(id); prevUnk = false; continue; }
            if (ByteFallback && byteIds[0] >= 0)
                foreach (var b in Encoding.UTF8.GetBytes(piece)) ids.Add(byteIds[b]);
            else if (!prevUnk) { ids.Add(UnkId); prevUnk = true; } // SentencePiece merges runs of unknowns
        }
        return ids;
    }

    /// <summary>Minimal protobuf wire-format reader.</summary>
    struct ProtoReader(byte[] buf, int pos, int end)
    {
        int p = pos;
        public readonly bool More => p < end;
        public ulong Varint()
        {
            ulong v = 0; int shift = 0;
            while (true)
            {
                if (p >= end) throw new InputFormatException("truncated tokenizer.model");
                byte b = buf[p++];
                v |= (ulong)(b & 0x7f) << shift;
                if ((b & 0x80) == 0) return v;
                shift += 7;
                if (shift > 63) throw new InputFormatException("bad varint in tokenizer.model");
            }
        }
        public (int Field, int Wire) Tag() { var t = Varint(); return ((int)(t >> 3), (int)(t & 7)); }
        public (int Start, int End) Span()
        {
            long len = (long)Varint();
            if (len < 0 || len > end - p) throw new InputFormatException("truncated field in tokenizer.model"); // not p + len: it overflows
            int s = p; p += (int)len; return (s, p);
        }
        public float Float()
        {
            if (p + 4 > end) throw new InputFormatException("truncated float in tokenizer.model");
            float f = BitConverter.ToSingle(buf, p); p += 4; return f;
        }
        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: p += 8; break;
                case 2: Span(); break;
                case 5: p += 4; break;
                default: throw new InputFormatException($"unsupported wire type {wire} in tokenizer.model");
            }
            if (p > end) throw new InputFormatException("truncated tokenizer.model");
        }
    }
}
