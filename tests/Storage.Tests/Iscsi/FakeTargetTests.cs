using System.Buffers.Binary;
using SmbCopy.Storage.Iscsi.Initiator;
using SmbCopy.Storage.Iscsi.Scsi;

namespace SmbCopy.Storage.Tests.Iscsi;

/// <summary>The initiator's protocol machinery against a scripted target.</summary>
public sealed class FakeTargetTests
{
    private static readonly byte[] Isid = IscsiInitiatorOptions.RandomIsid();

    [Fact]
    public async Task Target_nop_in_ping_is_answered_with_its_ttt()
    {
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync();
            var ping = new Bhs { Opcode = IscsiOpcode.NopIn, Final = true, InitiatorTaskTag = Bhs.ReservedTag };
            ping.SetUInt32(20, 0x77);
            ping.SetUInt32(24, s.StatSN);
            ping.SetUInt32(28, s.ExpCmdSN);
            ping.SetUInt32(32, s.MaxCmdSN);
            await s.SendAsync(ping);
            var reply = await s.ReadAsync();
            Assert.Equal(IscsiOpcode.NopOut, reply.Opcode);
            Assert.True(reply.Header.Immediate);
            Assert.Equal(Bhs.ReservedTag, reply.Header.InitiatorTaskTag);
            Assert.Equal(0x77u, reply.Header.GetUInt32(20));
            Assert.Equal(1u, reply.Header.GetUInt32(24)); // CmdSN carried, not advanced
        });
        await using var conn = await IscsiConnection.ConnectAsync(target.Options, Isid, 0);
        await target.Completion;
    }

    [Fact]
    public async Task Commands_wait_for_the_command_window_to_open()
    {
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync(maxCmdSN: 0); // ExpCmdSN 1, MaxCmdSN 0: window closed
            await Task.Delay(300);
            Assert.Equal(0, s.Socket.Available); // nothing sent while closed
            var open = new Bhs { Opcode = IscsiOpcode.NopIn, Final = true, InitiatorTaskTag = Bhs.ReservedTag };
            open.SetUInt32(20, Bhs.ReservedTag);
            open.SetUInt32(24, s.StatSN);
            open.SetUInt32(28, 1);
            open.SetUInt32(32, 1);
            s.MaxCmdSN = 1;
            await s.SendAsync(open);
            var cmd = await s.ReadAsync();
            Assert.Equal(IscsiOpcode.ScsiCommand, cmd.Opcode);
            Assert.Equal(1u, cmd.Header.GetUInt32(24));
            await s.RespondAsync(cmd);
        });
        await using var conn = await IscsiConnection.ConnectAsync(target.Options, Isid, 0);
        var r = await conn.ExecuteAsync(new ScsiCommand(0, Cdb.TestUnitReady()));
        Assert.True(r.IsGood);
        await target.Completion;
    }

    [Fact]
    public async Task Immediate_unsolicited_and_solicited_data_reassemble_the_write()
    {
        var payload = Enumerable.Range(0, 20000).Select(i => (byte)(i * 13)).ToArray();
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync("HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=4096\0FirstBurstLength=8192\0" +
                               "MaxBurstLength=65536\0InitialR2T=No\0ImmediateData=Yes\0");
            var got = new byte[payload.Length];
            var cmd = await s.ReadAsync();
            Assert.Equal(0x20, cmd.Header.Flags & 0x20);           // W
            Assert.Equal(0, cmd.Header.Flags & 0x80);              // F clear: unsolicited Data-Out follows
            Assert.Equal(20000u, cmd.Header.GetUInt32(20));
            Assert.Equal(4096, cmd.Data.Length);                   // immediate ≤ target MaxRecvDataSegmentLength
            cmd.Data.CopyTo(got);
            var unsolicited = await s.ReadAsync();
            Assert.Equal(IscsiOpcode.DataOut, unsolicited.Opcode);
            Assert.Equal(Bhs.ReservedTag, unsolicited.Header.GetUInt32(20));
            Assert.True(unsolicited.Header.Final);                 // end of the first burst (8192)
            Assert.Equal(4096u, unsolicited.Header.GetUInt32(40));
            unsolicited.Data.CopyTo(got.AsMemory(4096));
            var r2t = new Bhs { Opcode = IscsiOpcode.ReadyToTransfer, Final = true, InitiatorTaskTag = cmd.Header.InitiatorTaskTag };
            r2t.SetUInt32(20, 0x5151);
            r2t.SetUInt32(24, s.StatSN);
            r2t.SetUInt32(28, s.ExpCmdSN);
            r2t.SetUInt32(32, s.MaxCmdSN);
            r2t.SetUInt32(40, 8192);
            r2t.SetUInt32(44, 20000 - 8192);
            await s.SendAsync(r2t);
            for (uint sn = 0; ; sn++)
            {
                var d = await s.ReadAsync();
                Assert.Equal(0x5151u, d.Header.GetUInt32(20));
                Assert.Equal(sn, d.Header.GetUInt32(36));
                Assert.True(d.Data.Length <= 4096);
                d.Data.CopyTo(got.AsMemory((int)d.Header.GetUInt32(40)));
                if (d.Header.Final) break;
            }
            Assert.Equal(payload, got);
            await s.RespondAsync(cmd);
        });
        await using var conn = await IscsiConnection.ConnectAsync(target.Options, Isid, 0);
        Assert.False(conn.Parameters.InitialR2T);
        Assert.Equal(4096, conn.Parameters.TargetMaxRecvDataSegmentLength);
        var r = await conn.ExecuteAsync(new ScsiCommand(0, Cdb.Write16(0, 40), DataOut: payload));
        Assert.True(r.IsGood);
        await target.Completion;
    }

    [Fact]
    public async Task Data_in_with_status_and_underflow_residual()
    {
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync();
            var cmd = await s.ReadAsync();
            await s.SendAsync(s.DataIn(cmd, 0, final: false, dataSN: 0), new byte[] { 1, 2, 3, 4 });
            var last = s.DataIn(cmd, 4, final: true, withStatus: true, dataSN: 1);
            last.Flags |= 0x02; // U
            last.SetUInt32(44, 8);
            await s.SendAsync(last, new byte[] { 5, 6, 7, 8 });
        });
        await using var conn = await IscsiConnection.ConnectAsync(target.Options, Isid, 0);
        var buffer = new byte[16];
        var r = await conn.ExecuteAsync(new ScsiCommand(0, Cdb.Inquiry(null, 16), DataIn: buffer));
        Assert.True(r.IsGood);
        Assert.Equal(8, r.DataInLength);
        Assert.Equal(8, r.Residual);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }, buffer[..8]);
        await target.Completion;
    }

    [Fact]
    public async Task Data_in_past_the_buffer_drops_the_connection_and_fails_the_command()
    {
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync();
            var cmd = await s.ReadAsync();
            await s.SendAsync(s.DataIn(cmd, 0, final: true, withStatus: true), new byte[1024]); // 512 expected
            try { await s.ReadAsync(); } catch (IscsiException) { } // the initiator closes
        });
        await using var conn = await IscsiConnection.ConnectAsync(target.Options, Isid, 0);
        var buffer = new byte[512];
        var e = await Assert.ThrowsAsync<IscsiProtocolException>(() => conn.ExecuteAsync(new ScsiCommand(0, Cdb.Read16(0, 1), DataIn: buffer)));
        Assert.Contains("exceeds", e.Message);
        Assert.False(conn.IsUsable);
        await target.Completion;
    }

    [Fact]
    public async Task R2t_outside_the_write_drops_the_connection()
    {
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync("HeaderDigest=None\0DataDigest=None\0MaxRecvDataSegmentLength=8192\0InitialR2T=Yes\0ImmediateData=No\0");
            var cmd = await s.ReadAsync();
            var r2t = new Bhs { Opcode = IscsiOpcode.ReadyToTransfer, Final = true, InitiatorTaskTag = cmd.Header.InitiatorTaskTag };
            r2t.SetUInt32(40, 4096);
            r2t.SetUInt32(44, 4096); // the write is 4096 bytes long
            await s.SendAsync(r2t);
            try { await s.ReadAsync(); } catch (IscsiException) { }
        });
        await using var conn = await IscsiConnection.ConnectAsync(target.Options, Isid, 0);
        var e = await Assert.ThrowsAsync<IscsiProtocolException>(() => conn.ExecuteAsync(new ScsiCommand(0, Cdb.Write16(0, 8), DataOut: new byte[4096])));
        Assert.Contains("outside", e.Message);
        await target.Completion;
    }

    [Fact]
    public async Task Check_condition_carries_decoded_sense_and_reject_fails_one_command()
    {
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync();
            var cmd = await s.ReadAsync();
            byte[] sense = [0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0x07];
            await s.RespondAsync(cmd, status: 0x02, sense: sense);
            var second = await s.ReadAsync();
            var reject = new Bhs { Opcode = IscsiOpcode.Reject, Final = true, InitiatorTaskTag = Bhs.ReservedTag };
            reject.Span[2] = 0x09; // invalid PDU field
            reject.SetUInt32(24, s.StatSN++);
            reject.SetUInt32(28, s.ExpCmdSN);
            reject.SetUInt32(32, s.MaxCmdSN);
            await s.SendAsync(reject, second.Header.Array);
            var third = await s.ReadAsync();
            await s.RespondAsync(third);
        });
        await using var conn = await IscsiConnection.ConnectAsync(target.Options, Isid, 0);
        var r = await conn.ExecuteAsync(new ScsiCommand(0, Cdb.TestUnitReady()));
        Assert.Equal(ScsiStatus.CheckCondition, r.Status);
        Assert.Equal(SenseKey.UnitAttention, r.Sense!.Key);
        Assert.Equal("I_T NEXUS LOSS OCCURRED", r.Sense.AscName);
        var e = await Assert.ThrowsAsync<IscsiProtocolException>(() => conn.ExecuteAsync(new ScsiCommand(0, Cdb.TestUnitReady())));
        Assert.Contains("reason 0x09", e.Message);
        Assert.True(conn.IsUsable);
        Assert.True((await conn.ExecuteAsync(new ScsiCommand(0, Cdb.TestUnitReady()))).IsGood);
        await target.Completion;
    }

    [Fact]
    public async Task Unit_attention_is_retried_by_the_client()
    {
        await using var target = new FakeTarget(async s =>
        {
            await s.LoginAsync();
            var cmd = await s.ReadAsync();
            await s.RespondAsync(cmd, status: 0x02, sense: [0x70, 0, 0x06, 0, 0, 0, 0, 10, 0, 0, 0, 0, 0x29, 0x00]);
            cmd = await s.ReadAsync();
            await s.RespondAsync(cmd, status: 0x08); // BUSY
            cmd = await s.ReadAsync();
            await s.RespondAsync(cmd);
        });
        await using var client = await IscsiClient.ConnectAsync(target.Options with { MaxRetryAttempts = 3 });
        await client.ExecuteAsync(new ScsiCommand(0, Cdb.TestUnitReady()));
        Assert.Equal(2, client.Counters.Retries);
        Assert.Equal(0, client.Counters.Reconnects);
        await target.Completion;
    }

    [Fact]
    public async Task Login_failure_is_a_named_non_transient_error()
    {
        await using var target = new FakeTarget(async s => await s.LoginAsync(statusClass: 2, statusDetail: 1));
        var e = await Assert.ThrowsAsync<IscsiLoginException>(() => IscsiConnection.ConnectAsync(target.Options, Isid, 0));
        Assert.Contains("authentication failure", e.Message);
        Assert.False(e.IsTransient);
        await target.Completion;
    }

    [Fact]
    public async Task Chap_login_answers_the_challenge()
    {
        byte[] challenge = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 6];
        await using var target = new FakeTarget(async s =>
        {
            var keys = await s.LoginAsync(security: k =>
            {
                if (k.Get("AuthMethod") is { } m)
                {
                    Assert.Equal("CHAP,None", m);
                    return Task.FromResult((false, "AuthMethod=CHAP\0"));
                }
                if (k.Get("CHAP_A") is { } a)
                {
                    Assert.Equal("5", a);
                    return Task.FromResult((false, $"CHAP_A=5\0CHAP_I=42\0CHAP_C=0x{Convert.ToHexString(challenge)}\0"));
                }
                Assert.Equal("alice", k.Get("CHAP_N"));
                string expected = "0x" + Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(
                    [42, .. "s3cret-s3cret"u8.ToArray(), .. challenge]));
                Assert.Equal(expected, k.Get("CHAP_R"));
                return Task.FromResult((true, ""));
            });
            Assert.Equal("alice", keys.Get("CHAP_N"));
        });
        await using var conn = await IscsiConnection.ConnectAsync(target.Options with { ChapUser = "alice", ChapSecret = "s3cret-s3cret" }, Isid, 0);
        await target.Completion;
    }
}
