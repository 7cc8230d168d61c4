using SmbCopy.Gateway.Smb.Durable;
using SmbCopy.Protocol.Fscc;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Smb2.Messages;

namespace SmbCopy.Gateway.Tests.Durable;

/// <summary>Which durable contexts a CREATE may carry and when durability is granted (MS-SMB2 3.3.5.9.6/.7/.10/.12).</summary>
public sealed class DurableRequestTests
{
    internal static CreateContext Dhnq() => new(CreateContextNames.DurableHandleRequest, new byte[16]);
    internal static CreateContext Dhnc(ulong persistent, ulong @volatile)
    {
        var data = new byte[16];
        BitConverter.TryWriteBytes(data.AsSpan(0), persistent);
        BitConverter.TryWriteBytes(data.AsSpan(8), @volatile);
        return new(CreateContextNames.DurableHandleReconnect, data);
    }
    internal static CreateContext Dh2q(uint timeoutMs, Guid createGuid, uint flags = 0)
    {
        var data = new byte[32];
        BitConverter.TryWriteBytes(data.AsSpan(0), timeoutMs);
        BitConverter.TryWriteBytes(data.AsSpan(4), flags);
        createGuid.TryWriteBytes(data.AsSpan(16));
        return new(CreateContextNames.DurableHandleRequestV2, data);
    }
    internal static CreateContext Dh2c(ulong persistent, Guid createGuid)
    {
        var data = new byte[36];
        BitConverter.TryWriteBytes(data.AsSpan(0), persistent);
        createGuid.TryWriteBytes(data.AsSpan(16));
        return new(CreateContextNames.DurableHandleReconnectV2, data);
    }
    internal static CreateRequest Create(params CreateContext[] contexts) => new(0, OplockLevel.Batch, 2, 0,
        AccessMask.FileReadData | AccessMask.FileWriteData, SmbCopy.Protocol.Fscc.FileAttributes.Normal, ShareAccess.None,
        SmbCopy.Protocol.Fscc.CreateDisposition.OpenIf, CreateOptions.None, "file.dat", contexts);

    [Fact]
    public void No_durable_context_asks_for_nothing()
    {
        var (status, request) = DurableRequest.Parse(Create(), Smb2Dialect.Smb311);
        Assert.Equal(NtStatus.Success, status);
        Assert.False(request.IsRequest);
        Assert.False(request.IsReconnect);
    }

    [Fact]
    public void V2_request_with_v1_request_or_reconnect_is_invalid()
    {
        var guid = Guid.NewGuid();
        Assert.Equal(NtStatus.InvalidParameter, DurableRequest.Parse(Create(Dh2q(0, guid), Dhnq()), Smb2Dialect.Smb300).Status);
        Assert.Equal(NtStatus.InvalidParameter, DurableRequest.Parse(Create(Dh2q(0, guid), Dhnc(1, 1)), Smb2Dialect.Smb300).Status);
    }

    [Fact]
    public void V2_reconnect_with_any_other_durable_context_is_invalid()
    {
        var guid = Guid.NewGuid();
        Assert.Equal(NtStatus.InvalidParameter, DurableRequest.Parse(Create(Dh2c(1, guid), Dhnq()), Smb2Dialect.Smb311).Status);
        Assert.Equal(NtStatus.InvalidParameter, DurableRequest.Parse(Create(Dh2c(1, guid), Dhnc(1, 1)), Smb2Dialect.Smb311).Status);
        Assert.Equal(NtStatus.InvalidParameter, DurableRequest.Parse(Create(Dh2c(1, guid), Dh2q(0, guid)), Smb2Dialect.Smb311).Status);
    }

    [Fact]
    public void V1_request_beside_v1_reconnect_is_ignored()
    {
        var (status, request) = DurableRequest.Parse(Create(Dhnc(7, 9), Dhnq()), Smb2Dialect.Smb210);
        Assert.Equal(NtStatus.Success, status);
        Assert.True(request.IsReconnect);
        Assert.False(request.IsRequest);
        Assert.Equal(7UL, request.ReconnectV1!.Value.Persistent);
    }

    [Fact]
    public void V2_contexts_are_ignored_before_smb3()
    {
        var (status, request) = DurableRequest.Parse(Create(Dh2q(0, Guid.NewGuid()), Dhnq()), Smb2Dialect.Smb210);
        Assert.Equal(NtStatus.Success, status);
        Assert.True(request.RequestV1);
        Assert.Null(request.RequestV2);
    }

    [Fact]
    public void A_short_context_is_invalid()
    {
        var shortDh2q = new CreateContext(CreateContextNames.DurableHandleRequestV2, new byte[8]);
        Assert.Equal(NtStatus.InvalidParameter, DurableRequest.Parse(Create(shortDh2q), Smb2Dialect.Smb311).Status);
        var shortDhnq = new CreateContext(CreateContextNames.DurableHandleRequest, new byte[4]);
        Assert.Equal(NtStatus.InvalidParameter, DurableRequest.Parse(Create(shortDhnq), Smb2Dialect.Smb311).Status);
    }

    [Theory]
    [InlineData(OplockLevel.Batch, false, true)]
    [InlineData(OplockLevel.Exclusive, false, false)]
    [InlineData(OplockLevel.LevelII, false, false)]
    [InlineData(OplockLevel.None, false, false)]
    [InlineData(OplockLevel.Batch, true, false)]   // directories: never
    public void Durability_needs_a_batch_oplock_on_a_file(OplockLevel granted, bool directory, bool durable)
    {
        var v1 = DurableRequest.Parse(Create(Dhnq()), Smb2Dialect.Smb302).Request;
        var v2 = DurableRequest.Parse(Create(Dh2q(0, Guid.NewGuid(), DurableHandleRequestV2.FlagPersistent)), Smb2Dialect.Smb302).Request;
        Assert.Equal(durable, v1.Grants(granted, directory));
        Assert.Equal(durable, v2.Grants(granted, directory)); // persistent asked, plain durable given (no CA shares)
    }

    [Theory]
    [InlineData(0u, 60_000u)]
    [InlineData(1_000u, 1_000u)]
    [InlineData(300_000u, 300_000u)]
    [InlineData(uint.MaxValue, 300_000u)]
    public void V2_timeout_defaults_to_60_seconds_and_is_capped_at_300(uint requested, uint granted) =>
        Assert.Equal(granted, DurableRequest.EffectiveTimeoutMs(requested));
}
