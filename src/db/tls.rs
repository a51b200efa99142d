//! libpq-compatible `sslmode` on top of native-tls. One connector serves
//! migrate, serve and supervise.
//!
//! | mode        | TLS                    | chain verified            | host name checked |
//! |-------------|------------------------|---------------------------|-------------------|
//! | disable     | never                  | –                         | –                 |
//! | prefer      | if the server offers it| only with a root cert     | no                |
//! | require     | always                 | only with a root cert     | no                |
//! | verify-ca   | always                 | yes, against the bundle   | no                |
//! | verify-full | always                 | yes, against the bundle   | yes               |
//!
//! As in libpq, `require` with a root certificate behaves like `verify-ca`.

use native_tls::{Certificate, TlsConnector};
use postgres_native_tls::MakeTlsConnector;
use tokio_postgres::config::SslMode as PgSslMode;

use super::DbError;
use crate::config::{SslMode, TlsConfig};

/// What the connector will check, for the one startup log line.
pub fn describe(tls: &TlsConfig) -> &'static str {
    match (tls.mode, tls.root_cert.is_some()) {
        (SslMode::Disable, _) => "TLS off",
        (SslMode::Prefer, false) => "TLS if offered, server not verified",
        (SslMode::Require, false) => "TLS required, server not verified",
        (SslMode::Prefer, true) => {
            "TLS if offered, certificate chain verified, host name not checked"
        }
        (SslMode::Require | SslMode::VerifyCa, _) => {
            "TLS required, certificate chain verified, host name not checked"
        }
        (SslMode::VerifyFull, _) => "TLS required, certificate chain and host name verified",
    }
}

/// Builds the connector and the mode tokio-postgres negotiates with.
pub fn connector(tls: &TlsConfig) -> Result<(MakeTlsConnector, PgSslMode), DbError> {
    let mut builder = TlsConnector::builder();
    let verify_chain = match tls.mode {
        SslMode::VerifyCa | SslMode::VerifyFull => true,
        SslMode::Disable | SslMode::Prefer | SslMode::Require => tls.root_cert.is_some(),
    };
    if let Some(path) = &tls.root_cert {
        let pem = std::fs::read(path).map_err(|e| DbError::RootCert {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?;
        // `stack_from_pem`, not `from_pem`: an RDS bundle holds dozens of CAs
        // and `from_pem` would keep only the first.
        let certs = Certificate::stack_from_pem(&pem).map_err(|e| DbError::RootCert {
            path: path.display().to_string(),
            reason: format!("not a PEM certificate bundle: {e}"),
        })?;
        if certs.is_empty() {
            return Err(DbError::RootCert {
                path: path.display().to_string(),
                reason: "holds no certificate".into(),
            });
        }
        // Trust the bundle and only the bundle, as libpq does.
        builder.disable_built_in_roots(true);
        for cert in certs {
            builder.add_root_certificate(cert);
        }
    }
    if !verify_chain {
        builder.danger_accept_invalid_certs(true);
    }
    if tls.mode != SslMode::VerifyFull {
        builder.danger_accept_invalid_hostnames(true);
    }
    let connector = builder.build().map_err(|e| DbError::RootCert {
        path: tls
            .root_cert
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        reason: format!("cannot build the TLS connector: {e}"),
    })?;
    let pg_mode = match tls.mode {
        SslMode::Disable => PgSslMode::Disable,
        SslMode::Prefer => PgSslMode::Prefer,
        SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => PgSslMode::Require,
    };
    Ok((MakeTlsConnector::new(connector), pg_mode))
}
