using System.Text;
using SmbCopy.Gateway.Smb.Connection;
using SmbCopy.Gateway.Smb.Handlers;
using SmbCopy.Protocol.Smb2;
using SmbCopy.Protocol.Wire;

namespace SmbCopy.Gateway.Smb.Dispatch;

/// <summary>
/// The SMB1 multi-protocol NEGOTIATE clients open with (MS-SMB2 3.3.5.3.1): if it offers "SMB 2.???"
/// answer an SMB2 NEGOTIATE response with dialect 0x02FF; if only "SMB 2.002", negotiate 2.0.2.
/// Anything else, or SMB1 after negotiation, closes the connection.
/// </summary>
public static class Smb1Negotiate
{
    private const byte SmbComNegotiate = 0x72;
    private const int Smb1HeaderSize = 32;

    public static async Task HandleAsync(SmbConnection connection, ReadOnlyMemory<byte> frame)
    {
        if (connection.IsNegotiated || connection.AnsweredSmb1)
        {
            connection.Close("SMB1 message after negotiation");
            return;
        }
        var dialects = ParseDialects(frame.Span);
        if (dialects is null)
        {
            connection.Close("SMB1 message that is not a NEGOTIATE");
            return;
        }
        Smb2Dialect answer;
        if (dialects.Contains("SMB 2.???")) answer = Smb2Dialect.Wildcard;
        else if (dialects.Contains("SMB 2.002")) answer = Smb2Dialect.Smb202;
        else
        {
            connection.Close("SMB1 NEGOTIATE without an SMB2 dialect");
            return;
        }
        if (!connection.Credits.TryConsume(0, 1))
        {
            connection.Close("SMB1 NEGOTIATE after message id 0 was used");
            return;
        }
        using var body = new WireWriter(256);
        var response = NegotiateHandler.BuildResponse(connection, answer, contexts: []);
        response.WriteTo(body);
        if (answer == Smb2Dialect.Wildcard) connection.MarkSmb1Answered();
        else NegotiateHandler.CommitDialect(connection, answer, securityMode: 0, capabilities: 0, Guid.Empty, [Smb2Dialect.Smb202]);

        var message = new byte[Smb2Header.Size + body.Length];
        new Smb2Header
        {
            Command = Smb2Command.Negotiate,
            Credits = connection.Credits.Grant(1, connection.Server.Options.Limits.MaxCreditsPerConnection, 1),
            Flags = Smb2Flags.ServerToRedir,
            MessageId = 0,
        }.WriteTo(message);
        body.WrittenSpan.CopyTo(message.AsSpan(Smb2Header.Size));
        await connection.SendFrameAsync(message).ConfigureAwait(false);
    }

    /// <summary>Dialect strings of an SMB_COM_NEGOTIATE request ([MS-CIFS] 2.2.4.52.1), or null.</summary>
    private static List<string>? ParseDialects(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < Smb1HeaderSize + 3 || frame[4] != SmbComNegotiate) return null;
        var r = new WireReader(frame);
        r.Seek(Smb1HeaderSize);
        byte wordCount = r.ReadByte();
        r.Skip(wordCount * 2);
        ushort byteCount = r.ReadUInt16();
        var bytes = r.ReadBytes(Math.Min(byteCount, r.Remaining));
        var dialects = new List<string>();
        int i = 0;
        while (i < bytes.Length)
        {
            if (bytes[i] != 0x02) return null; // BufferFormat: dialect string
            int end = bytes[(i + 1)..].IndexOf((byte)0);
            if (end < 0) return null;
            dialects.Add(Encoding.ASCII.GetString(bytes.Slice(i + 1, end)));
            i += end + 2;
        }
        return dialects;
    }
}
