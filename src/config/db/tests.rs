//! Unit tests of config/db.rs.

use super::*;
use clap::Parser;

#[derive(Parser)]
struct T {
    #[command(flatten)]
    db: DbArgs,
    #[command(flatten)]
    app: AppRoleArgs,
}

/// Parses flags only: the process environment is never read here, so
/// tests running in parallel cannot disturb each other.
fn args(flags: &[&str]) -> T {
    let cmd = <T as clap::CommandFactory>::command()
        .mut_args(|a| a.env(clap::builder::Resettable::Reset));
    let m = cmd
        .try_get_matches_from(std::iter::once("t").chain(flags.iter().copied()))
        .unwrap();
    <T as clap::FromArgMatches>::from_arg_matches(&m).unwrap()
}

fn db(flags: &[&str]) -> Result<DbConfig, ConfigError> {
    DbConfig::from_args(&args(flags).db)
}

const PASSWORD: &str = "p@ss:w/rd#?%&= 1";

#[test]
fn db_vars_build_the_connection_structurally() {
    let c = db(&[
        "--db-host=db.internal",
        "--db-username=app",
        &format!("--db-password={PASSWORD}"),
    ])
    .unwrap();
    assert_eq!(c.pg.get_password(), Some(PASSWORD.as_bytes()));
    assert_eq!(c.pg.get_dbname(), Some("snippets"));
    assert_eq!(c.port(), 5432);
    assert_eq!(c.tls.mode, SslMode::Prefer);
    assert!(!format!("{c:?}").contains(PASSWORD));
    assert!(!format!("{:?}", args(&[&format!("--db-password={PASSWORD}")]).db).contains(PASSWORD));
}

#[test]
fn percent_encoded_password_in_url() {
    let url = "postgresql://app:p%40ss%3Aw%2Frd%23%3F%25%26%3D%201@db:6543/x?schema=public&sslmode=no-verify";
    let c = db(&[&format!("--database-url={url}")]).unwrap();
    assert_eq!(c.pg.get_password(), Some(PASSWORD.as_bytes()));
    assert_eq!(c.port(), 6543);
    assert_eq!(c.tls.mode, SslMode::Require);
    assert_eq!(c.warnings.len(), 1);
    let eff = c.effective();
    assert!(eff.contains(&("DB_HOST", "db".into())), "{eff:?}");
    assert!(eff.contains(&("DB_SSLMODE", "require".into())), "{eff:?}");
}

#[test]
fn missing_variable_is_named() {
    let e = db(&["--db-host=h", "--db-username=u"]).unwrap_err();
    assert_eq!(e.var, "DB_PASSWORD");
}

#[test]
fn conflicting_sslmode_names_both() {
    let e = db(&[
        "--database-url=postgres://u:p@h/d?sslmode=require",
        "--db-sslmode=disable",
    ])
    .unwrap_err();
    assert_eq!(e.var, "DB_SSLMODE");
    assert!(e.to_string().contains("sslmode=\"require\""), "{e}");
}

#[test]
fn verify_full_needs_a_root_cert() {
    let e = db(&["--database-url=postgres://u:p@h/d?sslmode=verify-full"]).unwrap_err();
    assert_eq!(e.var, "DB_SSLROOTCERT");
    let ok = db(&["--database-url=postgres://u:p@h/d?sslmode=verify-full&sslrootcert=%2Fca.pem"])
        .unwrap();
    assert_eq!(ok.tls.root_cert, Some(PathBuf::from("/ca.pem")));
}

#[test]
fn bad_url_does_not_echo_it() {
    let e = db(&["--database-url=mysql://u:secret@h/d"]).unwrap_err();
    assert!(!e.to_string().contains("secret"));
}

#[test]
fn app_role_needs_both_variables_and_another_name() {
    let owner = db(&["--database-url=postgres://owner:p@h/d"]).unwrap();
    let resolve = |flags: &[&str]| args(flags).app.resolve(&owner);
    assert!(resolve(&[]).unwrap().is_none());
    let e = resolve(&["--app-db-username=app"]).unwrap_err();
    assert_eq!(e.var, "APP_DB_PASSWORD");
    let e = resolve(&["--app-db-password=x"]).unwrap_err();
    assert_eq!(e.var, "APP_DB_USERNAME");
    let e = resolve(&["--app-db-username=owner", "--app-db-password=x"]).unwrap_err();
    assert_eq!(e.var, "APP_DB_USERNAME");
    let app = resolve(&[
        "--app-db-username=app",
        &format!("--app-db-password={PASSWORD}"),
    ])
    .unwrap()
    .unwrap();
    assert_eq!(app.user, "app");
    assert!(!format!("{app:?}").contains(PASSWORD));
}
