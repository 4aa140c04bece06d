//! The parser's low level: reading tokens, entering and leaving elements, reading and
//! unescaping text under the length limits, skipping or keeping unknown elements, and the
//! lenient reading of enumerated values.

use super::*;

impl<'a> Parser<'a, '_> {
    pub(super) fn offset(&self) -> usize {
        self.lexer.pos()
    }

    pub(super) fn malformed(offset: usize, message: &str) -> Error {
        Error::new(
            ErrorKind::MalformedXml,
            format!("not well-formed XML at byte {offset}: {message}"),
        )
    }

    pub(super) fn read(&mut self) -> Result<Token<'a>, Error> {
        match self.lexer.next_token() {
            Ok(Token::DocType) => Err(Error::new(
                ErrorKind::DoctypeForbidden,
                format!(
                    "DOCTYPE at byte {}: document type declarations (and with them entity \
                     expansion and external entities) are never accepted",
                    self.lexer.token_start()
                ),
            )),
            Ok(token) => Ok(token),
            Err(e) => Err(Self::malformed(e.offset, &e.message)),
        }
    }

    pub(super) fn eof_inside(&self, path: &str) -> Error {
        Self::malformed(
            self.offset(),
            &format!("document ends inside {path} (truncated?)"),
        )
    }

    pub(super) fn diag(&mut self, code: Code, severity: Severity, path: &str, raw: Option<&str>) {
        self.diags.push(code, severity, path, self.record, raw);
    }

    /// Checks the limits of a start tag and notes RFC 9990 `lang` attributes.
    pub(super) fn check_tag(&mut self, name: &str, attrs: &str, start: usize) -> Result<(), Error> {
        if name.len() > self.limits.max_name_bytes {
            return Err(Error::limit(
                "element name length",
                name.len(),
                self.limits.max_name_bytes,
            ));
        }
        if attrs.is_empty() {
            return Ok(());
        }
        let mut count = 0;
        for attr in attributes(attrs) {
            let (key, value) =
                attr.map_err(|e| Self::malformed(start, &format!("<{name}>: {e}")))?;
            count += 1;
            if count > self.limits.max_attributes {
                return Err(Error::limit(
                    "attributes per element",
                    count,
                    self.limits.max_attributes,
                ));
            }
            if key.len() > self.limits.max_name_bytes {
                return Err(Error::limit(
                    "attribute name length",
                    key.len(),
                    self.limits.max_name_bytes,
                ));
            }
            if value.len() > self.limits.max_attribute_bytes {
                return Err(Error::limit(
                    &format!("value of attribute '{key}' of <{name}> at byte {start}"),
                    format!("{} bytes", value.len()),
                    format!("{} bytes", self.limits.max_attribute_bytes),
                ));
            }
            if key == "lang" || key == "xml:lang" {
                self.rfc9990_hint = true;
            }
        }
        Ok(())
    }

    /// Enters an element: depth and tag limits.
    pub(super) fn enter(
        &mut self,
        name: &'a str,
        attrs: &'a str,
        empty: bool,
        start: usize,
    ) -> Result<Open<'a>, Error> {
        self.check_tag(name, attrs, start)?;
        if !empty {
            self.depth += 1;
            if self.depth > self.limits.max_depth {
                return Err(Error::limit(
                    "element nesting depth",
                    self.depth,
                    self.limits.max_depth,
                ));
            }
        }
        Ok(Open {
            name,
            attrs,
            empty,
            start,
        })
    }

    /// The next child element of the element being read, or its end.
    /// Text between child elements is reported (once per path) and skipped.
    pub(super) fn next_child(&mut self, path: &'static str) -> Result<Child<'a>, Error> {
        loop {
            let start = self.offset();
            match self.read()? {
                Token::Start { name, attrs, empty } => {
                    return Ok(Child::Open(self.enter(name, attrs, empty, start)?));
                }
                Token::End => {
                    self.depth -= 1;
                    return Ok(Child::Close);
                }
                Token::Text(t) | Token::CData(t) => {
                    let raw = t.trim_ascii();
                    if !raw.is_empty() {
                        self.diag(Code::UnexpectedText, Severity::Warning, path, Some(raw));
                    }
                }
                Token::Ignorable => {}
                Token::DocType => unreachable!("rejected in read()"),
                Token::Eof => return Err(self.eof_inside(path)),
            }
        }
    }

    /// Skips the rest of an element, enforcing the depth limit on the way.
    pub(super) fn skip(&mut self, open: &Open<'a>) -> Result<(), Error> {
        if open.empty {
            return Ok(());
        }
        let target = self.depth - 1;
        while self.depth > target {
            let start = self.offset();
            match self.read()? {
                Token::Start { name, attrs, empty } => {
                    self.enter(name, attrs, empty, start)?;
                }
                Token::End => self.depth -= 1,
                Token::Eof => return Err(self.eof_inside(open.name)),
                _ => {}
            }
        }
        Ok(())
    }

    /// Reads the text content of an element, resolving the predefined entities and
    /// character references; nested elements are skipped with a diagnostic.
    pub(super) fn text(
        &mut self,
        open: &Open<'a>,
        len: Len,
        path: &'static str,
    ) -> Result<Option<String>, Error> {
        if open.empty {
            return Ok(None);
        }
        // The usual case is one text token; `acc` collects pieces only when comments,
        // CDATA or nested elements interrupt the text.
        let mut single: Option<&'a str> = None;
        let mut acc: Option<String> = None;
        loop {
            let start = self.offset();
            let token = self.read()?;
            if matches!(token, Token::End) {
                self.depth -= 1;
                break;
            }
            if let Token::Text(t) = token
                && single.is_none()
                && acc.is_none()
            {
                single = Some(t);
                continue;
            }
            let mut collected = match (acc.take(), single.take()) {
                (Some(collected), _) => collected,
                (None, Some(first)) => self.unescape(first, path, start)?.into_owned(),
                (None, None) => String::new(),
            };
            match token {
                Token::Text(t) => collected.push_str(&self.unescape(t, path, start)?),
                Token::CData(t) => collected.push_str(t),
                Token::Start { name, attrs, empty } => {
                    let nested = self.enter(name, attrs, empty, start)?;
                    self.diag(Code::UnknownElement, Severity::Warning, path, Some(name));
                    self.skip(&nested)?;
                }
                Token::Ignorable => {}
                Token::End | Token::DocType => unreachable!("handled above / in read()"),
                Token::Eof => return Err(self.eof_inside(path)),
            }
            acc = Some(collected);
        }
        let raw: Cow<'a, str> = match (acc, single) {
            (Some(collected), _) => Cow::Owned(collected),
            (None, Some(text)) => self.unescape(text, path, open.start)?,
            (None, None) => return Ok(None),
        };
        let max = match len {
            Len::Token => self.limits.max_token_bytes,
            Len::Text => self.limits.max_text_bytes,
        };
        if raw.len() > max {
            return Err(Error::limit(
                &format!("length of {path}"),
                format!("{} bytes", raw.len()),
                format!("{max} bytes"),
            ));
        }
        let trimmed = raw.trim_matches(|c: char| c.is_ascii_whitespace());
        if trimmed.is_empty() {
            return Ok(None);
        }
        if text::has_forbidden_controls(trimmed) {
            self.diag(
                Code::ControlCharacter,
                Severity::Warning,
                path,
                Some(trimmed),
            );
            return Ok(Some(text::replace_forbidden_controls(trimmed)));
        }
        Ok(Some(trimmed.to_owned()))
    }

    /// Resolves the entity and character references of raw text. A `&` that does not
    /// start a reference (`&name;`, `&#N;`, `&#xH;`) makes the document not well-formed.
    pub(super) fn unescape(
        &mut self,
        raw: &'a str,
        path: &'static str,
        at: usize,
    ) -> Result<Cow<'a, str>, Error> {
        if memchr::memchr(b'&', raw.as_bytes()).is_none() {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut rest = raw;
        while let Some(amp) = rest.find('&') {
            out.push_str(&rest[..amp]);
            let after = &rest[amp + 1..];
            let name_len = after.bytes().take(32).position(|b| b == b';');
            let valid = name_len.is_some_and(|n| {
                n > 0
                    && after.as_bytes()[..n].iter().all(|&b| {
                        b.is_ascii_alphanumeric() || matches!(b, b'#' | b'_' | b'-' | b'.' | b':')
                    })
            });
            let (Some(n), true) = (name_len, valid) else {
                return Err(Self::malformed(
                    at,
                    &format!("'&' that starts no entity reference in {path}"),
                ));
            };
            let resolved = self.entity(&after[..n], path);
            out.push_str(&resolved);
            rest = &after[n + 1..];
        }
        out.push_str(rest);
        Ok(Cow::Owned(out))
    }

    /// Resolves the five predefined entities and character references; anything else is
    /// kept literally (no DTD can define it: DOCTYPEs are refused).
    pub(super) fn entity(&mut self, name: &str, path: &'static str) -> String {
        if let Some(number) = name.strip_prefix('#') {
            let code = match number.strip_prefix(['x', 'X']) {
                Some(hex) => u32::from_str_radix(hex, 16).ok(),
                None => number.parse::<u32>().ok(),
            };
            return match code.and_then(char::from_u32) {
                Some(c) if c != '\0' && !text::is_forbidden_control(c) => c.to_string(),
                _ => {
                    let raw = format!("&{name};");
                    self.diag(Code::ControlCharacter, Severity::Warning, path, Some(&raw));
                    char::REPLACEMENT_CHARACTER.to_string()
                }
            };
        }
        match name {
            "lt" => "<".into(),
            "gt" => ">".into(),
            "amp" => "&".into(),
            "apos" => "'".into(),
            "quot" => "\"".into(),
            other => {
                let raw = format!("&{other};");
                self.diag(Code::UnknownEntity, Severity::Warning, path, Some(&raw));
                raw
            }
        }
    }

    /// Stores a text value in a single-valued field, flagging repeats.
    pub(super) fn set_once(&mut self, slot_is_set: bool, path: &'static str) -> bool {
        if slot_is_set {
            self.diag(Code::DuplicateElement, Severity::Warning, path, None);
            return false;
        }
        true
    }

    /// Parses an enumerated value leniently.
    pub(super) fn vocab<T: Vocabulary>(
        &mut self,
        raw: Option<String>,
        path: &'static str,
    ) -> Option<T> {
        let raw = raw?;
        if let Some(v) = T::from_canonical(&raw) {
            return Some(v);
        }
        let lower = raw.to_ascii_lowercase();
        if let Some(v) = T::from_canonical(&lower) {
            self.diag(Code::ValueNormalized, Severity::Warning, path, Some(&raw));
            return Some(v);
        }
        if let Some(v) = T::alias(&lower) {
            self.diag(Code::ValueAlias, Severity::Warning, path, Some(&raw));
            return Some(v);
        }
        self.diag(Code::UnknownValue, Severity::Warning, path, Some(&raw));
        Some(T::other(raw))
    }

    /// Keeps an unknown or extension element as raw XML, within the size limit of its
    /// level (the report, or the current record).
    pub(super) fn keep_raw(
        &mut self,
        open: &Open<'a>,
        path: &'static str,
    ) -> Result<Option<Extension>, Error> {
        let name = open.qualified();
        self.skip(open)?;
        let end = self.offset();
        let size = end.saturating_sub(open.start);
        let used = if self.record.is_some() {
            &mut self.record_extension_bytes
        } else {
            &mut self.extension_bytes
        };
        if *used + size > self.limits.max_extension_bytes {
            self.diag(Code::ExtensionDropped, Severity::Warning, path, Some(&name));
            return Ok(None);
        }
        *used += size;
        // `start` is where the lexer began reading, before the whitespace ahead of the tag.
        let xml = self
            .lexer
            .src()
            .get(open.start..end)
            .unwrap_or_default()
            .trim_start()
            .to_owned();
        self.diag(Code::Extension, Severity::Info, path, Some(&name));
        Ok(Some(Extension { name, xml }))
    }
}
