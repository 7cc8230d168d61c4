using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text.RegularExpressions;

namespace SmbCopy.Gateway.Configuration;

/// <summary>
/// Binds the SmbCopy section strictly: a misspelt key (<c>RequireSiging</c>) or a value of the wrong type is a
/// start-up error naming the key, never a silently ignored setting.
/// </summary>
public static partial class SmbCopyOptionsBinder
{
    public static SmbCopyOptions Bind(IConfiguration configuration)
    {
        var section = configuration.GetSection(SmbCopyOptions.SectionName);
        var unknown = FindUnknownKeys(section, typeof(SmbCopyOptions)).FirstOrDefault();
        if (unknown is not null)
        {
            throw new ConfigurationException(unknown);
        }
        var options = new SmbCopyOptions();
        try
        {
            section.Bind(options);
        }
        catch (InvalidOperationException ex) when (FailedConversion().Match(ex.Message) is { Success: true } m)
        {
            var key = m.Groups["key"].Value;
            var type = m.Groups["type"].Value;
            var expected = type switch
            {
                "System.Int32" or "System.Nullable`1[System.Int32]" or "System.Int64" or "System.Nullable`1[System.Int64]" => "an integer",
                "System.Boolean" or "System.Nullable`1[System.Boolean]" => "true or false",
                _ => type,
            };
            throw new ConfigurationException(new(key, $"'{configuration[key]}' is not {expected}"), ex);
        }
        return options;
    }

    /// <summary>Keys under <paramref name="section"/> that no property of <paramref name="type"/> (recursively) accepts.</summary>
    internal static IEnumerable<ConfigurationError> FindUnknownKeys(IConfigurationSection section, Type type)
    {
        foreach (var child in section.GetChildren())
        {
            var errors = CheckValue(child, FindProperty(type, child.Key), type);
            foreach (var e in errors)
            {
                yield return e;
            }
        }
    }

    private static IEnumerable<ConfigurationError> CheckValue(IConfigurationSection child, PropertyInfo? property, Type owner)
    {
        if (property is null)
        {
            var known = string.Join(", ", owner.GetProperties(BindingFlags.Public | BindingFlags.Instance).Select(p => p.Name));
            return [new(child.Path, $"unknown setting (expected one of {known})")];
        }
        return CheckType(child, property.PropertyType);
    }

    private static IEnumerable<ConfigurationError> CheckType(IConfigurationSection section, Type type)
    {
        if (IsScalar(type))
        {
            var first = section.GetChildren().FirstOrDefault();
            if (first is not null)
            {
                return [new(first.Path, "unknown setting (the parent is a single value)")];
            }
            // ConfigurationBinder swallows conversion failures inside list entries (Shares:0:Port=abc would be left
            // unset, i.e. the driver default), so numbers and switches are checked here, for every key alike.
            return ExpectedKind(type) is { } expected && !Converts(section.Value, type)
                ? [new(section.Path, $"'{section.Value}' is not {expected}")]
                : [];
        }
        if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(List<>))
        {
            var element = type.GetGenericArguments()[0];
            return section.GetChildren().SelectMany(item =>
                int.TryParse(item.Key, NumberStyles.None, CultureInfo.InvariantCulture, out _)
                    ? CheckType(item, element)
                    : [new ConfigurationError(item.Path, "list entries must be numbered 0, 1, 2, ...")]);
        }
        return FindUnknownKeys(section, type);
    }

    /// <summary>"an integer" / "true or false" for the types checked before binding; null for the others.</summary>
    private static string? ExpectedKind(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t == typeof(int) || t == typeof(long) ? "an integer" : t == typeof(bool) ? "true or false" : null;
    }

    /// <summary>What ConfigurationBinder would do with the value: the type's converter, invariant culture.</summary>
    private static bool Converts(string? value, Type type)
    {
        if (value is null)
        {
            return true;
        }
        try
        {
            TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException or NotSupportedException)
        {
            return false;
        }
    }

    private static bool IsScalar(Type type)
    {
        var t = Nullable.GetUnderlyingType(type) ?? type;
        return t.IsPrimitive || t.IsEnum || t == typeof(string) || t == typeof(decimal);
    }

    private static PropertyInfo? FindProperty(Type type, string name) =>
        type.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .FirstOrDefault(p => p.CanWrite && string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));

    [GeneratedRegex("^Failed to convert configuration value '?.*?'? ?at '(?<key>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex FailedConversion();
}
