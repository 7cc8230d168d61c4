using SmbCopy.Protocol.Smb2;

namespace SmbCopy.Gateway.Smb.Dispatch;

/// <summary>What the dispatcher resolves before a handler runs (design.md, request path step 4).</summary>
[Flags]
public enum HandlerRequirements
{
    None = 0,
    /// <summary>A valid session named by SessionId (or inherited in a related compound).</summary>
    Session = 1,
    /// <summary>A tree connect of that session named by TreeId.</summary>
    Tree = 2 | Session,
}

/// <summary>One SMB2 command. One implementation per command, in Handlers/.</summary>
public interface ISmb2Handler
{
    Smb2Command Command { get; }
    HandlerRequirements Requirements { get; }
    /// <summary>
    /// Payload size the request implies, for the multi-credit charge check (MS-SMB2 3.3.5.2.5); 0 when
    /// the command is not a large-MTU command.
    /// </summary>
    int ExpectedPayloadSize(ReadOnlySpan<byte> message) => 0;
    ValueTask<Smb2Response> HandleAsync(Smb2Request request);
}

/// <summary>Reads the length field a multi-credit charge is computed from (MS-SMB2 3.3.5.2.5).</summary>
public static class PayloadField
{
    /// <summary>The 32-bit length at <paramref name="bodyOffset"/> of the request body, bounds-checked.</summary>
    public static int UInt32At(ReadOnlySpan<byte> message, int bodyOffset) =>
        (int)Math.Min(int.MaxValue, System.Buffers.Binary.BinaryPrimitives.ReadUInt32LittleEndian(
            SmbCopy.Protocol.Wire.WireReader.Slice(message, Smb2Header.Size + bodyOffset, 4)));
}
