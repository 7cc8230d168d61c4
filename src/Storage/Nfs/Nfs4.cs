namespace SmbCopy.Storage.Nfs;

/// <summary>NFSv4.1/4.2 numbers (RFC 8881, RFC 7862, RFC 8276; XDR from RFC 7863).</summary>
internal static class Nfs4
{
    public const uint Program = 100003, Version = 4;
    public const uint ProcNull = 0, ProcCompound = 1;

    // operations
    public const uint OpAccess = 3, OpClose = 4, OpCommit = 5, OpCreate = 6, OpGetattr = 9, OpGetfh = 10, OpLookup = 15,
        OpOpen = 18, OpPutfh = 22, OpPutrootfh = 24, OpRead = 25, OpReaddir = 26, OpReadlink = 27, OpRemove = 28,
        OpRename = 29, OpRestorefh = 31, OpSavefh = 32, OpSetattr = 34, OpWrite = 38,
        OpExchangeId = 42, OpCreateSession = 43, OpDestroySession = 44, OpSequence = 53, OpDestroyClientid = 57,
        OpReclaimComplete = 58, OpBindConnToSession = 41, OpOffloadCancel = 66, OpAllocate = 59, OpCopy = 60, OpDeallocate = 62, OpOffloadStatus = 67, OpClone = 71,
        OpGetxattr = 72, OpSetxattr = 73, OpRemovexattr = 75, OpIllegal = 10044;

    // callback operations (RFC 8881 §20, RFC 7862 §16.1)
    public const uint CbOpSequence = 11, CbOpOffload = 15;

    // nfsstat4
    public const int Ok = 0, Perm = 1, NoEnt = 2, Io = 5, NxIo = 6, Access = 13, Exist = 17, XDev = 18, NotDir = 20,
        IsDir = 21, Inval = 22, FBig = 27, NoSpc = 28, RoFs = 30, MLink = 31, NameTooLong = 63, NotEmpty = 66, DQuot = 69,
        Stale = 70, BadHandle = 10001, BadCookie = 10003, NotSupp = 10004, TooSmall = 10005, ServerFault = 10006,
        BadType = 10007, Delay = 10008, Same = 10009, Denied = 10010, Expired = 10011, Locked = 10012, Grace = 10013,
        FhExpired = 10014, ShareDenied = 10015, WrongSec = 10016, ClidInUse = 10017, Resource = 10018, Moved = 10019,
        NoFileHandle = 10020, MinorVersMismatch = 10021, StaleClientId = 10022, StaleStateId = 10023,
        OldStateId = 10024, BadStateId = 10025, BadSeqId = 10026, NotSame = 10027, LockRange = 10028,
        Symlink = 10029, RestoreFh = 10030, LeaseMoved = 10031, AttrNotSupp = 10032, NoGrace = 10033,
        ReclaimBad = 10034, ReclaimConflict = 10035, BadXdr = 10036, LocksHeld = 10037, OpenMode = 10038,
        BadOwner = 10039, BadChar = 10040, BadName = 10041, BadRange = 10042, LockNotSupp = 10043, IllegalOp = 10044,
        Deadlock = 10045, FileOpen = 10046, AdminRevoked = 10047, CbPathDown = 10048,
        BadSession = 10052, BadSlot = 10053, CompleteAlready = 10054, ConnNotBoundToSession = 10055,
        DelegAlreadyWanted = 10056, BackChanBusy = 10057, LayoutTryLater = 10058, LayoutUnavailable = 10059,
        NoMatchingLayout = 10060, RecallConflict = 10061, UnknownLayoutType = 10062, SeqMisordered = 10063,
        SequencePos = 10064, ReqTooBig = 10065, RepTooBig = 10066, RepTooBigToCache = 10067,
        RetryUncachedRep = 10068, UnsafeCompound = 10069, TooManyOps = 10070, OpNotInSession = 10071,
        HashAlgUnsupp = 10072, ClientIdBusy = 10074, PnfsIoHole = 10075, SeqFalseRetry = 10076,
        BadHighSlot = 10077, DeadSession = 10078, EncrAlgUnsupp = 10079, PnfsNoLayout = 10080, NotOnlyOp = 10081,
        WrongCred = 10082, WrongType = 10083, DirDelegUnavail = 10084, RejectDeleg = 10085, ReturnConflict = 10086,
        DelegRevoked = 10087, PartnerNotSupp = 10088, PartnerNoAuth = 10089, UnionNotSupp = 10090,
        OffloadDenied = 10091, WrongLfs = 10092, BadLabel = 10093, OffloadNoReqs = 10094, NoXattr = 10095,
        XattrTooBig = 10096;

    // attributes (number = bit index over the bitmap words)
    public const int AttrSupported = 0, AttrType = 1, AttrChange = 3, AttrSize = 4, AttrFsid = 8, AttrLeaseTime = 10,
        AttrRdattrError = 11, AttrFilehandle = 19, AttrFileid = 20, AttrMaxname = 29, AttrMode = 33, AttrNumlinks = 35,
        AttrSpaceAvail = 42, AttrSpaceFree = 43, AttrSpaceTotal = 44, AttrSpaceUsed = 45, AttrTimeAccess = 47,
        AttrTimeAccessSet = 48, AttrTimeCreate = 50, AttrTimeMetadata = 52, AttrTimeModify = 53, AttrTimeModifySet = 54,
        AttrCloneBlksize = 77, AttrXattrSupport = 82;

    // nfs_ftype4
    public const uint TypeReg = 1, TypeDir = 2, TypeBlk = 3, TypeChr = 4, TypeLnk = 5, TypeSock = 6, TypeFifo = 7;

    // OPEN
    public const uint ShareAccessRead = 1, ShareAccessWrite = 2, ShareAccessBoth = 3, WantNoDeleg = 0x400;
    public const uint Unstable = 0, DataSync = 1, FileSync = 2;

    public static string StatusName(int status) => status switch
    {
        Ok => "NFS4_OK", NoEnt => "NFS4ERR_NOENT", Exist => "NFS4ERR_EXIST", Access => "NFS4ERR_ACCESS",
        Perm => "NFS4ERR_PERM", XDev => "NFS4ERR_XDEV", NotDir => "NFS4ERR_NOTDIR", IsDir => "NFS4ERR_ISDIR",
        Inval => "NFS4ERR_INVAL", NotEmpty => "NFS4ERR_NOTEMPTY", NotSupp => "NFS4ERR_NOTSUPP", Delay => "NFS4ERR_DELAY",
        Grace => "NFS4ERR_GRACE", BadSession => "NFS4ERR_BADSESSION", StaleClientId => "NFS4ERR_STALE_CLIENTID",
        BadStateId => "NFS4ERR_BAD_STATEID", StaleStateId => "NFS4ERR_STALE_STATEID", Expired => "NFS4ERR_EXPIRED",
        OffloadNoReqs => "NFS4ERR_OFFLOAD_NO_REQS", NoXattr => "NFS4ERR_NOXATTR", Stale => "NFS4ERR_STALE",
        IllegalOp => "NFS4ERR_OP_ILLEGAL", DeadSession => "NFS4ERR_DEADSESSION", SeqMisordered => "NFS4ERR_SEQ_MISORDERED",
        _ => $"nfsstat4 {status}",
    };

    /// <summary>The one place NFS status codes become storage errors.</summary>
    public static StorageError ToStorageError(int status) => status switch
    {
        NoEnt => StorageError.NotFound,
        Exist => StorageError.AlreadyExists,
        Perm or Access or WrongCred or OpenMode or ShareDenied or Denied or Locked => StorageError.AccessDenied,
        XDev => StorageError.CrossDevice,
        NotDir => StorageError.NotADirectory,
        IsDir => StorageError.IsADirectory,
        Inval or BadRange or BadType or BadName or BadChar or WrongType => StorageError.InvalidParameter,
        FBig => StorageError.FileTooLarge,
        NoSpc or DQuot => StorageError.NoSpace,
        RoFs => StorageError.ReadOnly,
        NameTooLong => StorageError.NameInvalid,
        NotEmpty => StorageError.DirectoryNotEmpty,
        NotSupp or AttrNotSupp or IllegalOp or OffloadNoReqs or UnionNotSupp or PartnerNotSupp => StorageError.NotSupported,
        Stale or FhExpired or BadHandle or BadStateId or StaleStateId or Expired or AdminRevoked => StorageError.HandleClosed,
        Delay or Grace or FileOpen => StorageError.Busy,
        Resource => StorageError.InsufficientResources,
        _ => StorageError.IoError,
    };

    /// <summary>Errors after which the same compound may succeed later (the resilience pipeline retries them).</summary>
    public static bool IsTransient(int status) => status is Delay or Grace;

    /// <summary>Errors that say the open state is gone (server restart, lease expiry): reopen then retry.</summary>
    public static bool IsLostState(int status) =>
        status is BadStateId or StaleStateId or Expired or AdminRevoked or DelegRevoked or StaleClientId;
}

/// <summary>An NFS operation failed with an nfsstat4.</summary>
internal sealed class NfsStatusException(int status, uint op, string message)
    : Exception($"{message}: {Nfs4.StatusName(status)} (op {op})")
{
    public int Status { get; } = status;
    public uint Op { get; } = op;

    public StorageException ToStorage(string what) =>
        new(Nfs4.ToStorageError(Status), $"{what}: {Nfs4.StatusName(Status)}", Status);
}

/// <summary>The transport or the session failed in a way that a retry (after reconnecting / recovering) may fix.</summary>
internal sealed class NfsTransientException : Exception
{
    public NfsTransientException(string message) : base(message) { }
    public NfsTransientException(string message, Exception inner) : base(message, inner) { }
}
