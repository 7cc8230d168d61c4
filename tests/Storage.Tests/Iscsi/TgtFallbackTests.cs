using System.Diagnostics;
using System.Security.Cryptography;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;
using Xunit.Abstractions;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>A target without EXTENDED COPY (tgt): the copy engine says why and copies through the gateway.</summary>
[Collection(TgtCollection.Name)]
public sealed class TgtFallbackTests(TgtTargetFixture target, ITestOutputHelper output)
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task Copy_without_a_copy_manager_falls_back_to_read_write()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var src = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        var dst = await ScsiBlockDevice.OpenAsync(client, target.Lun1);
        output.WriteLine(src.ToString());
        Assert.False(src.SupportsExtendedCopy);
        string? reason = ScsiCopyEngine.ExtendedCopyUnavailableReason(src, dst);
        Assert.NotNull(reason);

        var data = new byte[16 * MiB];
        Random.Shared.NextBytes(data);
        await src.WriteAsync(2048, data);
        var before = client.Counters.Snapshot();
        var sw = Stopwatch.StartNew();
        var result = await new ScsiCopyEngine().CopyAsync(src, 2048, dst, 4096, data.Length / src.BlockSize);
        var d = client.Counters.Snapshot() - before;
        output.WriteLine($"tgt 16 MiB copy: {sw.ElapsedMilliseconds} ms, {result}, {d}");
        Assert.Equal(ScsiCopyMethod.ReadWrite, result.Method);
        Assert.Equal(reason, result.FallbackReason);
        Assert.Equal(0, d.ExtendedCopyCommands);
        Assert.Equal(16, d.ReadCommands);
        Assert.Equal(16, d.WriteCommands);
        var back = new byte[data.Length];
        await dst.ReadAsync(4096, back);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(back));
    }

    [Fact]
    public async Task Extended_copy_sent_anyway_is_refused_with_a_named_sense()
    {
        await using var client = await IscsiClient.ConnectAsync(target.Options());
        var lun = await ScsiBlockDevice.OpenAsync(client, target.Lun0);
        var list = ExtendedCopyParameters.Build(
            [new CopyTarget([0x01, 0x03, 0x00, 0x10, .. new byte[16]], 512), new CopyTarget([0x01, 0x03, 0x00, 0x10, .. new byte[16]], 512)],
            [new CopySegment(0, 1, 8, 0, 8)]);
        var e = await Assert.ThrowsAsync<ScsiCommandException>(() =>
            client.ExecuteAsync(new ScsiCommand(lun.Lun, Cdb.ExtendedCopyLid1((uint)list.Length), DataOut: list)));
        output.WriteLine(e.Message);
        Assert.Equal(SenseKey.IllegalRequest, e.Sense!.Key);
        Assert.True(e.IsNotSupported);
        Assert.Equal(StorageError.NotSupported, e.ToStorageError());
    }
}
