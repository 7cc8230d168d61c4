using SmbCopy.Protocol.Security;
namespace SmbCopy.Gateway.Hosting;

/// <summary><c>smbcopy hash-password</c>: reads a password from stdin, prints its NT hash for SmbCopy:Users:N:NtHash.</summary>
internal static class HashPasswordCommand
{
    public const string Name = "hash-password";

    public static int Run(TextReader input, TextWriter output, TextWriter error, bool interactive)
    {
        string? password;
        if (interactive)
        {
            password = ReadHidden(error, "Password: ");
            var again = ReadHidden(error, "Again: ");
            if (password != again)
            {
                error.WriteLine("hash-password: the passwords differ");
                return 2;
            }
        }
        else
        {
            password = input.ReadLine(); // only the line ending is stripped: spaces are part of a password
        }
        if (string.IsNullOrEmpty(password))
        {
            error.WriteLine("hash-password: no password given (it is read from standard input)");
            return 2;
        }
        output.WriteLine(Convert.ToHexStringLower(NtHash.FromPassword(password)));
        return 0;
    }

    /// <summary>Reads a line from the terminal without echoing it.</summary>
    private static string ReadHidden(TextWriter prompt, string text)
    {
        prompt.Write(text);
        var chars = new List<char>();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                if (chars.Count > 0)
                {
                    chars.RemoveAt(chars.Count - 1);
                }
            }
            else if (!char.IsControl(key.KeyChar))
            {
                chars.Add(key.KeyChar);
            }
        }
        prompt.WriteLine();
        return new string([.. chars]);
    }
}
