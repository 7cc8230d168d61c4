using System.Net;
using System.Net.Sockets;
using SmbCopy.Storage.Iscsi.Initiator;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>
/// A scripted in-process iSCSI target for the behaviours a real target rarely shows on demand (pings, a closed
/// command window, lying Data-In / R2T, rejects, login failures). One connection; the script drives it PDU by PDU.
/// </summary>
public sealed class FakeTarget : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _run;

    public FakeTarget(Func<FakeTargetSession, Task> script)
    {
        _listener.Start();
        _run = Task.Run(async () =>
        {
            using var socket = await _listener.AcceptSocketAsync().ConfigureAwait(false);
            socket.NoDelay = true;
            await using var stream = new NetworkStream(socket, ownsSocket: false);
            await script(new FakeTargetSession(stream, socket)).ConfigureAwait(false);
        });
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>The script's outcome (its assertions), within a timeout.</summary>
    public Task Completion => _run.WaitAsync(TimeSpan.FromSeconds(30));

    public IscsiInitiatorOptions Options => new()
    {
        Host = "127.0.0.1",
        Port = Port,
        TargetName = "iqn.2025-01.test:fake",
        NopInterval = TimeSpan.Zero,
        MaxRetryAttempts = 1,
        RetryDelay = TimeSpan.FromMilliseconds(10),
        CommandTimeout = TimeSpan.FromSeconds(20),
    };

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        try { await _run.WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false); } catch { /* reported by Completion */ }
    }
}

public sealed class FakeTargetSession(NetworkStream stream, Socket socket)
{
    public uint StatSN { get; set; } = 100;
    public uint ExpCmdSN { get; set; } = 1;
    public uint MaxCmdSN { get; set; } = 64;
    public Socket Socket => socket;

    public async Task<Pdu> ReadAsync()
    {
        var (bhs, ahs) = await PduStream.ReadHeaderAsync(stream, 1 << 24, default, CancellationToken.None);
        var data = new byte[bhs.DataSegmentLength];
        await PduStream.ReadDataAsync(stream, bhs, data, default, CancellationToken.None);
        return new Pdu(bhs, ahs, data);
    }

    public async Task SendAsync(Bhs bhs, ReadOnlyMemory<byte> data = default) =>
        await stream.WriteAsync(PduCodec.Encode(bhs, default, data.Span));

    /// <summary>Answers login requests until full feature phase: every stage transits at once.</summary>
    public async Task<TextKeys> LoginAsync(string operationalAnswer = "HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=262144\0",
        uint maxCmdSN = 64, byte statusClass = 0, byte statusDetail = 0, Func<TextKeys, Task<(bool Done, string Keys)>>? security = null)
    {
        var all = new TextKeys();
        while (true)
        {
            var req = await ReadAsync();
            Assert.Equal(IscsiOpcode.LoginRequest, req.Opcode);
            var keys = TextKeys.Parse(req.Data.Span);
            foreach (var kv in keys.Pairs) all.Add(kv.Key, kv.Value);
            byte csg = (byte)((req.Header.Flags >> 2) & 3);
            var resp = new Bhs { Opcode = IscsiOpcode.LoginResponse };
            resp.Span[8] = req.Header.Span[8];
            resp.SetUInt16(14, 7);
            resp.InitiatorTaskTag = req.Header.InitiatorTaskTag;
            resp.SetUInt32(24, StatSN++);
            resp.SetUInt32(28, ExpCmdSN);
            resp.SetUInt32(32, maxCmdSN);
            resp.Span[36] = statusClass;
            resp.Span[37] = statusDetail;
            string answer;
            bool transit = true;
            if (csg == 0)
            {
                if (security != null)
                {
                    var (done, k) = await security(keys);
                    transit = done;
                    answer = k;
                }
                else answer = "AuthMethod=None\0";
            }
            else answer = operationalAnswer;
            resp.Flags = (byte)((transit ? 0x80 : 0) | (csg << 2) | (transit ? (csg == 0 ? 1 : 3) : (csg == 0 ? 0 : 1)));
            await SendAsync(resp, System.Text.Encoding.ASCII.GetBytes(answer));
            if (statusClass != 0) return all;
            if (transit && csg == 1) { MaxCmdSN = maxCmdSN; return all; }
        }
    }

    /// <summary>SCSI Response for a command PDU.</summary>
    public Task RespondAsync(Pdu command, byte status = 0, byte[]? sense = null, byte flags = 0x80, uint residual = 0)
    {
        var r = new Bhs { Opcode = IscsiOpcode.ScsiResponse, Flags = flags };
        r.InitiatorTaskTag = command.Header.InitiatorTaskTag;
        r.Span[3] = status;
        r.SetUInt32(24, StatSN++);
        r.SetUInt32(28, ++ExpCmdSN);
        r.SetUInt32(32, ++MaxCmdSN);
        r.SetUInt32(44, residual);
        byte[] data = sense == null ? [] : [(byte)(sense.Length >> 8), (byte)sense.Length, .. sense];
        return SendAsync(r, data);
    }

    public Bhs DataIn(Pdu command, uint offset, bool final, bool withStatus = false, uint dataSN = 0)
    {
        var d = new Bhs { Opcode = IscsiOpcode.DataIn, Flags = (byte)((final ? 0x80 : 0) | (withStatus ? 0x01 : 0)) };
        d.InitiatorTaskTag = command.Header.InitiatorTaskTag;
        d.SetUInt32(20, Bhs.ReservedTag);
        if (withStatus) d.SetUInt32(24, StatSN++);
        d.SetUInt32(28, withStatus ? ++ExpCmdSN : ExpCmdSN);
        d.SetUInt32(32, withStatus ? ++MaxCmdSN : MaxCmdSN);
        d.SetUInt32(36, dataSN);
        d.SetUInt32(40, offset);
        return d;
    }
}
