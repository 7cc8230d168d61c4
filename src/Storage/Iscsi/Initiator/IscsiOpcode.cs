namespace SmbCopy.Storage.Iscsi.Initiator;

/// <summary>PDU opcodes (RFC 7143 §11.2.1.2): the low 6 bits of BHS byte 0.</summary>
public enum IscsiOpcode : byte
{
    // initiator → target
    NopOut = 0x00,
    ScsiCommand = 0x01,
    TaskManagementRequest = 0x02,
    LoginRequest = 0x03,
    TextRequest = 0x04,
    DataOut = 0x05,
    LogoutRequest = 0x06,
    Snack = 0x10,

    // target → initiator
    NopIn = 0x20,
    ScsiResponse = 0x21,
    TaskManagementResponse = 0x22,
    LoginResponse = 0x23,
    TextResponse = 0x24,
    DataIn = 0x25,
    LogoutResponse = 0x26,
    ReadyToTransfer = 0x31,
    AsyncMessage = 0x32,
    Reject = 0x3F,
}
