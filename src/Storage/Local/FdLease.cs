using System.Runtime.InteropServices;

namespace SmbCopy.Storage.Local;

/// <summary>
/// Borrows the descriptor of a <see cref="SafeHandle"/> for one call: the descriptor cannot be closed (and its number
/// reused for another file) while it is borrowed.
/// </summary>
internal readonly struct FdLease : IDisposable
{
    private readonly SafeHandle _handle;

    public FdLease(SafeHandle handle)
    {
        _handle = handle;
        bool added = false;
        try
        {
            handle.DangerousAddRef(ref added);
        }
        catch (ObjectDisposedException e)
        {
            throw new StorageException(StorageError.HandleClosed, "The handle is closed.", e);
        }
        Fd = (int)handle.DangerousGetHandle();
    }

    public int Fd { get; }

    public void Dispose() => _handle.DangerousRelease();
}
