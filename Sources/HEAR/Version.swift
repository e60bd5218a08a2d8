/// The package's version (its git tags are `<major>.<minor>.<patch>`; `hear --version` prints it).
public enum HEARVersion {
    public static let string = "0.9.0"
}
