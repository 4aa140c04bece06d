//! `feedback/record`: the row (address, count, evaluated policy and override reasons), the
//! identifiers and the raw authentication results, with every repair as a diagnostic.

use super::*;

impl<'a> Parser<'a, '_> {
    pub(super) fn record(&mut self, open: &Open<'a>) -> Result<(), Error> {
        if self.record_count >= self.limits.max_records {
            return Err(Error::limit(
                "records per report",
                self.record_count + 1,
                self.limits.max_records,
            ));
        }
        self.record = Some(self.record_count);
        self.record_extension_bytes = 0;
        let mut row = RowParts::default();
        let mut identifiers: Option<Identifiers> = None;
        let mut auth: Option<AuthResults> = None;
        let mut extensions = Vec::new();
        children!(self, open, "feedback/record", {
            "row" => |p, c| {
                if row.seen {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/record/row", None);
                    return p.skip(c);
                }
                row.seen = true;
                p.row(c, &mut row)
            },
            "identifiers" | "identities" => |p, c| {
                if c.local() == "identities" {
                    p.diag(Code::ElementAlias, Severity::Warning, "feedback/record/identities", None);
                }
                if identifiers.is_some() {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/record/identifiers", None);
                    return p.skip(c);
                }
                identifiers = Some(p.identifiers(c)?);
                Ok(())
            },
            "auth_results" => |p, c| {
                if auth.is_some() {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/record/auth_results", None);
                    return p.skip(c);
                }
                auth = Some(p.auth_results(c)?);
                Ok(())
            },
        } else |p: &mut Self, c: &Open<'a>| {
            if let Some(ext) = p.keep_raw(c, "feedback/record/*")? {
                extensions.push(ext);
            }
            Ok(())
        });
        let record = self.finish_record(row, identifiers, auth, extensions);
        if let Some(record) = record {
            self.record_count += 1;
            (self.on_record)(record);
        }
        self.record = None;
        Ok(())
    }

    fn finish_record(
        &mut self,
        row: RowParts,
        identifiers: Option<Identifiers>,
        auth: Option<AuthResults>,
        extensions: Vec<Extension>,
    ) -> Option<Record> {
        const IP: &str = "feedback/record/row/source_ip";
        const COUNT: &str = "feedback/record/row/count";
        let count = match row.count.as_deref().map(parse_count) {
            Some(Some((count, repaired))) if count <= self.limits.max_row_count => {
                if repaired {
                    self.diag(
                        Code::NumberRepaired,
                        Severity::Warning,
                        COUNT,
                        row.count.as_deref(),
                    );
                }
                count
            }
            Some(_) | None => {
                self.diag(
                    Code::RowDropped,
                    Severity::Error,
                    COUNT,
                    row.count.as_deref(),
                );
                return None;
            }
        };
        let source_ip = match row.source_ip.as_deref() {
            Some(raw) => {
                let ip = parse_ip(raw);
                if ip.is_none() {
                    self.diag(Code::InvalidSourceIp, Severity::Error, IP, Some(raw));
                }
                ip
            }
            None => {
                self.diag(Code::InvalidSourceIp, Severity::Error, IP, None);
                None
            }
        };
        let pe = &row.policy_evaluated;
        for (missing, path) in [
            (
                pe.disposition.is_none(),
                "feedback/record/row/policy_evaluated/disposition",
            ),
            (
                pe.dkim.is_none(),
                "feedback/record/row/policy_evaluated/dkim",
            ),
            (pe.spf.is_none(), "feedback/record/row/policy_evaluated/spf"),
            (
                !row.policy_evaluated_seen,
                "feedback/record/row/policy_evaluated",
            ),
        ] {
            if missing {
                self.diag(Code::MissingElement, Severity::Warning, path, None);
            }
        }
        let identifiers = identifiers.unwrap_or_default();
        if identifiers.header_from.is_none() {
            self.diag(
                Code::MissingElement,
                Severity::Warning,
                "feedback/record/identifiers/header_from",
                None,
            );
        }
        Some(Record {
            source_ip,
            count,
            policy_evaluated: row.policy_evaluated,
            identifiers,
            auth_results: auth.unwrap_or_default(),
            extensions,
        })
    }

    fn row(&mut self, open: &Open<'a>, row: &mut RowParts) -> Result<(), Error> {
        children!(self, open, "feedback/record/row", {
            "source_ip" => |p, c| {
                let value = p.text(c, Len::Token, "feedback/record/row/source_ip")?;
                if p.set_once(row.source_ip.is_some(), "feedback/record/row/source_ip") {
                    row.source_ip = value;
                }
                Ok(())
            },
            "count" => |p, c| {
                let value = p.text(c, Len::Token, "feedback/record/row/count")?;
                if p.set_once(row.count.is_some(), "feedback/record/row/count") {
                    row.count = value;
                }
                Ok(())
            },
            "policy_evaluated" => |p, c| {
                if row.policy_evaluated_seen {
                    p.diag(Code::DuplicateElement, Severity::Warning, "feedback/record/row/policy_evaluated", None);
                    return p.skip(c);
                }
                row.policy_evaluated_seen = true;
                p.policy_evaluated(c, &mut row.policy_evaluated)
            },
        });
        Ok(())
    }

    fn policy_evaluated(&mut self, open: &Open<'a>, pe: &mut PolicyEvaluated) -> Result<(), Error> {
        children!(self, open, "feedback/record/row/policy_evaluated", {
            "disposition" => |p, c| {
                const PATH: &str = "feedback/record/row/policy_evaluated/disposition";
                let raw = p.text(c, Len::Token, PATH)?;
                if p.set_once(pe.disposition.is_some(), PATH) {
                    pe.disposition = p.vocab(raw, PATH);
                    if pe.disposition == Some(Disposition::Pass) {
                        p.rfc9990_hint = true;
                    }
                }
                Ok(())
            },
            "dkim" => |p, c| {
                const PATH: &str = "feedback/record/row/policy_evaluated/dkim";
                let raw = p.text(c, Len::Token, PATH)?;
                if p.set_once(pe.dkim.is_some(), PATH) {
                    pe.dkim = p.vocab(raw, PATH);
                }
                Ok(())
            },
            "spf" => |p, c| {
                const PATH: &str = "feedback/record/row/policy_evaluated/spf";
                let raw = p.text(c, Len::Token, PATH)?;
                if p.set_once(pe.spf.is_some(), PATH) {
                    pe.spf = p.vocab(raw, PATH);
                }
                Ok(())
            },
            "reason" => |p, c| {
                if pe.reason.len() >= p.limits.max_reasons_per_record {
                    return Err(Error::limit("override reasons per record", pe.reason.len() + 1, p.limits.max_reasons_per_record));
                }
                let reason = p.reason(c)?;
                if reason.kind == Some(OverrideType::PolicyTestMode) {
                    p.rfc9990_hint = true;
                }
                pe.reason.push(reason);
                Ok(())
            },
        });
        Ok(())
    }

    /// `reason` has `type` and `comment` children; some reporters send the type as bare
    /// text (`<reason>sampled_out</reason>`), which is accepted with a diagnostic.
    fn reason(&mut self, open: &Open<'a>) -> Result<PolicyOverrideReason, Error> {
        const PATH: &str = "feedback/record/row/policy_evaluated/reason";
        const TYPE: &str = "feedback/record/row/policy_evaluated/reason/type";
        let mut reason = PolicyOverrideReason::default();
        let mut type_seen = false;
        if !open.empty {
            let mut bare = String::new();
            loop {
                let start = self.offset();
                let child = match self.read()? {
                    Token::Start { name, attrs, empty } => self.enter(name, attrs, empty, start)?,
                    Token::End => {
                        self.depth -= 1;
                        break;
                    }
                    Token::Text(t) => {
                        let text = self.unescape(t, PATH, start)?;
                        bare.push_str(&text);
                        continue;
                    }
                    Token::CData(t) => {
                        bare.push_str(t);
                        continue;
                    }
                    Token::Eof => return Err(self.eof_inside(PATH)),
                    Token::Ignorable | Token::DocType => continue,
                };
                match child.local() {
                    "type" => {
                        type_seen = true;
                        let raw = self.text(&child, Len::Token, TYPE)?;
                        if self.set_once(reason.kind.is_some(), TYPE) {
                            reason.kind = self.vocab(raw, TYPE);
                        }
                    }
                    "comment" => {
                        const C: &str = "feedback/record/row/policy_evaluated/reason/comment";
                        let value = self.text(&child, Len::Text, C)?;
                        if self.set_once(reason.comment.is_some(), C) {
                            reason.comment = value;
                        }
                    }
                    _ => {
                        let name = child.qualified();
                        self.diag(
                            Code::UnknownElement,
                            Severity::Info,
                            "feedback/record/row/policy_evaluated/reason/*",
                            Some(&name),
                        );
                        self.skip(&child)?;
                    }
                }
            }
            let bare = bare.trim_ascii();
            if !bare.is_empty() {
                if reason.kind.is_none() && !type_seen {
                    self.diag(Code::UnexpectedText, Severity::Warning, PATH, Some(bare));
                    reason.kind = self.vocab(Some(bare.to_owned()), TYPE);
                    type_seen = true;
                } else {
                    self.diag(Code::UnexpectedText, Severity::Warning, PATH, Some(bare));
                }
            }
        }
        if reason.kind.is_none() {
            let code = if type_seen {
                Code::EmptyElement
            } else {
                Code::MissingElement
            };
            self.diag(code, Severity::Warning, TYPE, None);
        }
        Ok(reason)
    }

    fn identifiers(&mut self, open: &Open<'a>) -> Result<Identifiers, Error> {
        let mut ids = Identifiers::default();
        children!(self, open, "feedback/record/identifiers", {
            "header_from" => |p, c| p.opt_text(c, Len::Token, "feedback/record/identifiers/header_from", &mut ids.header_from),
            "envelope_from" => |p, c| p.opt_text(c, Len::Token, "feedback/record/identifiers/envelope_from", &mut ids.envelope_from),
            "envelope_to" => |p, c| p.opt_text(c, Len::Token, "feedback/record/identifiers/envelope_to", &mut ids.envelope_to),
        });
        Ok(ids)
    }

    fn opt_text(
        &mut self,
        open: &Open<'a>,
        len: Len,
        path: &'static str,
        slot: &mut Option<String>,
    ) -> Result<(), Error> {
        let value = self.text(open, len, path)?;
        if self.set_once(slot.is_some(), path) {
            *slot = value;
        }
        Ok(())
    }

    fn auth_results(&mut self, open: &Open<'a>) -> Result<AuthResults, Error> {
        let mut auth = AuthResults::default();
        children!(self, open, "feedback/record/auth_results", {
            "dkim" => |p, c| {
                if auth.dkim.len() >= p.limits.max_dkim_per_record {
                    return Err(Error::limit("DKIM results per record", auth.dkim.len() + 1, p.limits.max_dkim_per_record));
                }
                let dkim = p.dkim(c)?;
                auth.dkim.push(dkim);
                Ok(())
            },
            "spf" => |p, c| {
                if auth.spf.len() >= p.limits.max_spf_per_record {
                    return Err(Error::limit("SPF results per record", auth.spf.len() + 1, p.limits.max_spf_per_record));
                }
                let spf = p.spf(c)?;
                auth.spf.push(spf);
                Ok(())
            },
        });
        Ok(auth)
    }

    fn dkim(&mut self, open: &Open<'a>) -> Result<DkimAuthResult, Error> {
        const RESULT: &str = "feedback/record/auth_results/dkim/result";
        let mut dkim = DkimAuthResult::default();
        children!(self, open, "feedback/record/auth_results/dkim", {
            "domain" => |p, c| p.opt_text(c, Len::Token, "feedback/record/auth_results/dkim/domain", &mut dkim.domain),
            "selector" => |p, c| p.opt_text(c, Len::Token, "feedback/record/auth_results/dkim/selector", &mut dkim.selector),
            "human_result" => |p, c| p.opt_text(c, Len::Text, "feedback/record/auth_results/dkim/human_result", &mut dkim.human_result),
            "result" => |p, c| {
                let raw = p.text(c, Len::Token, RESULT)?;
                if p.set_once(dkim.result.is_some(), RESULT) {
                    dkim.result = p.vocab(raw, RESULT);
                }
                Ok(())
            },
        });
        if dkim.domain.is_none() {
            self.diag(
                Code::MissingElement,
                Severity::Warning,
                "feedback/record/auth_results/dkim/domain",
                None,
            );
        }
        if dkim.result.is_none() {
            self.diag(Code::MissingElement, Severity::Warning, RESULT, None);
        }
        Ok(dkim)
    }

    fn spf(&mut self, open: &Open<'a>) -> Result<SpfAuthResult, Error> {
        const RESULT: &str = "feedback/record/auth_results/spf/result";
        const SCOPE: &str = "feedback/record/auth_results/spf/scope";
        let mut spf = SpfAuthResult::default();
        children!(self, open, "feedback/record/auth_results/spf", {
            "domain" => |p, c| p.opt_text(c, Len::Token, "feedback/record/auth_results/spf/domain", &mut spf.domain),
            "human_result" => |p, c| p.opt_text(c, Len::Text, "feedback/record/auth_results/spf/human_result", &mut spf.human_result),
            "scope" => |p, c| {
                let raw = p.text(c, Len::Token, SCOPE)?;
                if p.set_once(spf.scope.is_some(), SCOPE) {
                    spf.scope = p.vocab(raw, SCOPE);
                }
                Ok(())
            },
            "result" => |p, c| {
                let raw = p.text(c, Len::Token, RESULT)?;
                if p.set_once(spf.result.is_some(), RESULT) {
                    spf.result = p.vocab(raw, RESULT);
                }
                Ok(())
            },
        });
        if spf.domain.is_none() {
            self.diag(
                Code::MissingElement,
                Severity::Warning,
                "feedback/record/auth_results/spf/domain",
                None,
            );
        }
        if spf.result.is_none() {
            self.diag(Code::MissingElement, Severity::Warning, RESULT, None);
        }
        if spf.scope.is_none() {
            self.diag(Code::ScopeOmitted, Severity::Info, SCOPE, None);
        }
        Ok(spf)
    }
}

#[derive(Default)]
struct RowParts {
    seen: bool,
    source_ip: Option<String>,
    count: Option<String>,
    policy_evaluated_seen: bool,
    policy_evaluated: PolicyEvaluated,
}

/// Parses a message count; `true` when it had to be repaired (`"5.0"`, `"1,000"`).
fn parse_count(raw: &str) -> Option<(u64, bool)> {
    if let Ok(v) = raw.parse::<u64>() {
        return Some((v, false));
    }
    let int = match raw.split_once('.') {
        Some((int, frac)) if frac.bytes().all(|b| b == b'0') => int.to_owned(),
        Some(_) => return None,
        None => raw.replace([',', '_', ' '], ""),
    };
    int.parse::<u64>().ok().map(|v| (v, true))
}

/// Parses an IP address, also from `[v6]`, with a zone id, or with an IPv4 port-less suffix.
fn parse_ip(raw: &str) -> Option<IpAddr> {
    if let Ok(ip) = IpAddr::from_str(raw) {
        return Some(ip);
    }
    let unbracketed = raw
        .strip_prefix('[')
        .and_then(|s| s.strip_suffix(']'))
        .unwrap_or(raw);
    let without_zone = unbracketed.split('%').next().unwrap_or(unbracketed);
    IpAddr::from_str(without_zone).ok()
}
