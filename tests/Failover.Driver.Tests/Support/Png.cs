using System.Buffers.Binary;
using System.IO.Compression;

namespace Failover.Driver.Tests.Support;

/// <summary>
/// A decoded PNG image (8-bit RGB or RGBA, not interlaced: what Chromium's screenshots are), enough to look
/// at the colours of a rendered page without an imaging package.
/// </summary>
internal sealed class Png
{
    public int Width { get; }
    public int Height { get; }
    private readonly byte[] _pixels; // RGB, row after row
    
    private Png(int width, int height, byte[] pixels) => (Width, Height, _pixels) = (width, height, pixels);

    public (byte R, byte G, byte B) this[int x, int y] => (_pixels[(y * Width + x) * 3], _pixels[(y * Width + x) * 3 + 1], _pixels[(y * Width + x) * 3 + 2]);

    public static Png Read(string path)
    {
        var data = File.ReadAllBytes(path);
        if (!data.AsSpan(0, 8).SequenceEqual(new byte[] { 137, 80, 78, 71, 13, 10, 26, 10 })) throw new InvalidDataException($"{path} is not a PNG");
        int width = 0, height = 0, channels = 0;
        using var idat = new MemoryStream();
        for (var at = 8; at < data.Length;)
        {
            var length = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(at));
            var type = System.Text.Encoding.ASCII.GetString(data, at + 4, 4);
            var body = data.AsSpan(at + 8, length);
            if (type == "IHDR")
            {
                (width, height) = (BinaryPrimitives.ReadInt32BigEndian(body), BinaryPrimitives.ReadInt32BigEndian(body[4..]));
                channels = body[9] switch { 2 => 3, 6 => 4, var t => throw new InvalidDataException($"PNG colour type {t} is not handled") };
                if (body[8] != 8 || body[12] != 0) throw new InvalidDataException("only 8-bit, non-interlaced PNGs are handled");
            }
            else if (type == "IDAT") idat.Write(body);
            at += 12 + length;
        }
        idat.Position = 0;
        using var inflated = new MemoryStream();
        using (var z = new ZLibStream(idat, CompressionMode.Decompress)) z.CopyTo(inflated);
        var raw = inflated.ToArray();
        var stride = width * channels;
        var previous = new byte[stride];
        var rgb = new byte[width * height * 3];
        for (var y = 0; y < height; y++)
        {
            var filter = raw[y * (stride + 1)];
            var line = raw.AsSpan(y * (stride + 1) + 1, stride);
            for (var i = 0; i < stride; i++)
            {
                int a = i >= channels ? line[i - channels] : 0, b = previous[i], c = i >= channels ? previous[i - channels] : 0;
                line[i] = (byte)(line[i] + filter switch
                {
                    0 => 0,
                    1 => a,
                    2 => b,
                    3 => (a + b) / 2,
                    4 => Paeth(a, b, c),
                    _ => throw new InvalidDataException($"PNG filter {filter}"),
                });
            }
            for (var x = 0; x < width; x++)
                for (var k = 0; k < 3; k++) rgb[(y * width + x) * 3 + k] = line[x * channels + k];
            line.CopyTo(previous);
        }
        return new Png(width, height, rgb);
    }

    private static int Paeth(int a, int b, int c)
    {
        int p = a + b - c, pa = Math.Abs(p - a), pb = Math.Abs(p - b), pc = Math.Abs(p - c);
        return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
    }
}
