namespace SmbCopy.Protocol.Fscc;

/// <summary>FILETIME helpers: 100 ns ticks since 1601-01-01 UTC, carried as a signed 64-bit value on the wire.</summary>
public static class FileTime
{
    private static readonly long EpochTicks = new DateTime(1601, 1, 1, 0, 0, 0, DateTimeKind.Utc).Ticks;

    /// <summary>SET_INFO time value meaning "leave unchanged".</summary>
    public const long Unchanged = 0;
    /// <summary>SET_INFO time value -1: stop updating this time for the handle.</summary>
    public const long Freeze = -1;
    /// <summary>SET_INFO time value -2: resume updating this time for the handle.</summary>
    public const long Resume = -2;

    public static long FromDateTime(DateTime value)
    {
        var utc = value.Kind == DateTimeKind.Local ? value.ToUniversalTime() : value;
        if (utc.Ticks < EpochTicks) return 0;
        return utc.Ticks - EpochTicks;
    }

    public static long FromDateTimeOffset(DateTimeOffset value) => FromDateTime(value.UtcDateTime);

    /// <summary>Converts a FILETIME to a UTC DateTime; values outside the DateTime range are clamped.</summary>
    public static DateTime ToDateTime(long fileTime)
    {
        if (fileTime <= 0) return new DateTime(EpochTicks, DateTimeKind.Utc);
        if (fileTime > DateTime.MaxValue.Ticks - EpochTicks) return DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc);
        return new DateTime(EpochTicks + fileTime, DateTimeKind.Utc);
    }
}
