//! A Flink SQL script, parsed into statements.
//!
//! Flink's `CREATE TABLE` has a column list no SQL parser knows
//! (`WATERMARK FOR ts AS …`, `PRIMARY KEY (…) NOT ENFORCED`, computed and
//! metadata columns) and string-keyed options (`WITH ('connector' = …)`).
//! It is read here with sqlparser's own primitives (`parse_identifier`,
//! `parse_data_type`, `parse_expr`, `parse_literal_string`); every other
//! statement is sqlparser's, in [`FlinkDialect`] (backquoted identifiers).
//!
//! ```
//! use weir::sql::parse::{parse_script, Statement};
//! let script = "CREATE TABLE t (a BIGINT, ts TIMESTAMP(3),
//!                 WATERMARK FOR ts AS ts - INTERVAL '5' SECOND)
//!               WITH ('connector' = 'filesystem', 'path' = 'in.jsonl', 'format' = 'json');
//!               INSERT INTO s SELECT a FROM t WHERE a > 1;";
//! let statements = parse_script(script).unwrap();
//! let Statement::CreateTable(t) = &statements[0] else { panic!() };
//! assert_eq!(t.name, "t");
//! assert_eq!(t.watermark.as_ref().unwrap().column, "ts");
//! assert_eq!(t.options["connector"], "filesystem");
//! assert!(matches!(statements[1], Statement::Insert { .. }));
//! ```

use super::Pos;
use datafusion_sql::sqlparser::ast::{self, DataType, Expr, Query, TableObject};
use datafusion_sql::sqlparser::dialect::Dialect;
use datafusion_sql::sqlparser::keywords::Keyword;
use datafusion_sql::sqlparser::parser::{Parser, ParserError};
use datafusion_sql::sqlparser::tokenizer::Token;
use std::collections::BTreeMap;

/// Flink's lexical rules: identifiers quoted with backquotes, strings with
/// single quotes.
#[derive(Debug, Default)]
pub struct FlinkDialect;

impl Dialect for FlinkDialect {
    fn is_identifier_start(&self, ch: char) -> bool {
        ch.is_ascii_alphabetic() || ch == '_'
    }

    fn is_identifier_part(&self, ch: char) -> bool {
        ch.is_ascii_alphanumeric() || ch == '_' || ch == '$'
    }

    fn is_delimited_identifier_start(&self, ch: char) -> bool {
        ch == '`'
    }

    fn supports_filter_during_aggregation(&self) -> bool {
        true
    }

    /// `TABLE t [PARTITION BY k | PARTITION BY (k, …)]`, the table argument
    /// of Flink's window functions (`TUMBLE(TABLE t, DESCRIPTOR(ts), …)`),
    /// which sqlparser has no expression for: read as a call of
    /// [`TABLE_ARGUMENT`] with the table's name, then the partition keys.
    fn parse_prefix(&self, parser: &mut Parser) -> Option<Result<Expr, ParserError>> {
        if !parser.peek_keyword(Keyword::TABLE) || parser.peek_nth_token(1).token == Token::LParen {
            return None;
        }
        parser.next_token();
        Some(table_argument(parser))
    }
}

/// The function a window function's `TABLE t` argument is read as.
pub const TABLE_ARGUMENT: &str = "__weir_table";

fn table_argument(p: &mut Parser) -> Result<Expr, ParserError> {
    use ast::{
        Function, FunctionArg, FunctionArgExpr, FunctionArgumentList, FunctionArguments, Ident,
        ObjectName,
    };
    let name = p.parse_identifier()?;
    let mut args = vec![Expr::Identifier(name)];
    if p.parse_keywords(&[Keyword::PARTITION, Keyword::BY]) {
        if p.consume_token(&Token::LParen) {
            args.extend(p.parse_comma_separated(Parser::parse_expr)?);
            p.expect_token(&Token::RParen)?;
        } else {
            args.push(p.parse_expr()?);
        }
    }
    Ok(Expr::Function(Function {
        name: ObjectName::from(vec![Ident::new(TABLE_ARGUMENT)]),
        uses_odbc_syntax: false,
        parameters: FunctionArguments::None,
        args: FunctionArguments::List(FunctionArgumentList {
            duplicate_treatment: None,
            args: args
                .into_iter()
                .map(|e| FunctionArg::Unnamed(FunctionArgExpr::Expr(e)))
                .collect(),
            clauses: Vec::new(),
        }),
        filter: None,
        null_treatment: None,
        over: None,
        within_group: Vec::new(),
    }))
}

/// A statement of a script.
#[derive(Debug, Clone)]
pub enum Statement {
    /// `CREATE [TEMPORARY] TABLE`.
    CreateTable(Box<TableDef>),
    /// `INSERT INTO sink SELECT …`.
    Insert {
        /// The table written.
        sink: String,
        /// The query.
        query: Box<Query>,
        /// Where the statement starts.
        at: Pos,
    },
    /// `SET 'key' = 'value'`.
    Set {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Where the statement starts.
        at: Pos,
    },
    /// `CREATE [TEMPORARY] [SYSTEM] FUNCTION [IF NOT EXISTS] name AS
    /// 'component' [LANGUAGE lang]`.
    CreateFunction(FunctionDef),
    /// A statement weir does not run: what it is, where.
    Other {
        /// Its first words.
        what: String,
        /// Where it starts.
        at: Pos,
    },
}

/// A table as `CREATE TABLE` declares it.
#[derive(Debug, Clone)]
pub struct TableDef {
    /// Its name.
    pub name: String,
    /// Physical columns, in order (the source reads these).
    pub columns: Vec<ColumnDef>,
    /// `WATERMARK FOR column AS expr`.
    pub watermark: Option<WatermarkDef>,
    /// `PRIMARY KEY (…) NOT ENFORCED`.
    pub primary_key: Vec<String>,
    /// Computed columns (`c AS expr`), in order.
    pub computed: Vec<ComputedDef>,
    /// Metadata columns: refused at planning (name, what, where).
    pub unsupported: Vec<(String, &'static str, Pos)>,
    /// The `WITH` options, as written.
    pub options: BTreeMap<String, String>,
    /// Where the statement starts.
    pub at: Pos,
}

impl TableDef {
    /// Is `column` a processing time (`c AS PROCTIME()`)?
    pub fn is_proctime(&self, column: &str) -> bool {
        self.computed.iter().any(|c| {
            c.name == column
                && matches!(&c.expr, Expr::Function(f)
                    if f.name.to_string().eq_ignore_ascii_case("PROCTIME"))
        })
    }
}

/// A function as `CREATE FUNCTION` declares it.
#[derive(Debug, Clone)]
pub struct FunctionDef {
    /// Its name, as written.
    pub name: String,
    /// The component: a `.wasm` file or a project, relative to the script.
    pub component: String,
    /// `LANGUAGE …` as written (weir runs `WASM`).
    pub language: Option<String>,
    /// Where the statement starts.
    pub at: Pos,
}

/// A physical column.
#[derive(Debug, Clone)]
pub struct ColumnDef {
    /// Its name.
    pub name: String,
    /// Its type as written.
    pub ty: DataType,
    /// `NOT NULL` was not written.
    pub nullable: bool,
    /// Where it is declared.
    pub at: Pos,
}

/// A computed column, `c AS expr`: an expression over the physical
/// columns (or `PROCTIME()`), evaluated as rows come.
#[derive(Debug, Clone)]
pub struct ComputedDef {
    /// Its name.
    pub name: String,
    /// Its expression.
    pub expr: Expr,
    /// Its place among all the table's columns (physical and computed).
    pub position: usize,
    /// Where it is declared.
    pub at: Pos,
}

/// `WATERMARK FOR column AS expr`.
#[derive(Debug, Clone)]
pub struct WatermarkDef {
    /// The event-time column.
    pub column: String,
    /// The watermark's expression.
    pub expr: Expr,
    /// Where it is declared.
    pub at: Pos,
}

/// Parse `text` into statements (`;`-separated).
pub fn parse_script(text: &str) -> Result<Vec<Statement>, ParserError> {
    let dialect = FlinkDialect;
    let mut p = Parser::new(&dialect).try_with_sql(text)?;
    let mut out = Vec::new();
    loop {
        while p.consume_token(&Token::SemiColon) {}
        if p.peek_token().token == Token::EOF {
            return Ok(out);
        }
        let at: Pos = p.peek_token().span.start.into();
        let create = p.parse_keywords(&[Keyword::CREATE, Keyword::TABLE])
            || p.parse_keywords(&[Keyword::CREATE, Keyword::TEMPORARY, Keyword::TABLE]);
        let function = !create
            && p.maybe_parse(|p| {
                p.expect_keyword(Keyword::CREATE)?;
                let _ = p.parse_keyword(Keyword::TEMPORARY);
                let _ = word(p, "SYSTEM");
                p.expect_keyword(Keyword::FUNCTION)
            })?
            .is_some();
        let statement = if create {
            Statement::CreateTable(Box::new(create_table(&mut p, at)?))
        } else if function {
            Statement::CreateFunction(create_function(&mut p, at)?)
        } else if word(&mut p, "SET") {
            let key = p.parse_literal_string()?;
            p.expect_token(&Token::Eq)?;
            let value = p.parse_literal_string()?;
            Statement::Set { key, value, at }
        } else {
            statement(p.parse_statement()?, at)
        };
        out.push(statement);
        if !p.consume_token(&Token::SemiColon) && p.peek_token().token != Token::EOF {
            return p.expected("`;` after the statement", p.peek_token());
        }
    }
}

/// The rest of `CREATE … FUNCTION` (`at`), after `FUNCTION`.
fn create_function(p: &mut Parser, at: Pos) -> Result<FunctionDef, ParserError> {
    let _ = p.parse_keywords(&[Keyword::IF, Keyword::NOT, Keyword::EXISTS]);
    let name = table_name(&p.parse_object_name(false)?);
    p.expect_keyword(Keyword::AS)?;
    let component = p.parse_literal_string()?;
    let language = if p.parse_keyword(Keyword::LANGUAGE) {
        Some(p.parse_identifier()?.value)
    } else {
        None
    };
    Ok(FunctionDef {
        name,
        component,
        language,
        at,
    })
}

/// A statement sqlparser parsed, as one of weir's.
fn statement(s: ast::Statement, at: Pos) -> Statement {
    match s {
        ast::Statement::Insert(insert)
            if insert.columns.is_empty() && !insert.overwrite && insert.source.is_some() =>
        {
            match insert.table {
                TableObject::TableName(name) => Statement::Insert {
                    sink: table_name(&name),
                    query: insert.source.expect("checked above"),
                    at,
                },
                other => Statement::Other {
                    what: format!("INSERT INTO {other}"),
                    at,
                },
            }
        }
        ast::Statement::Insert(insert) if !insert.columns.is_empty() => Statement::Other {
            what: "`INSERT INTO table (columns…)` with a column list".into(),
            at,
        },
        other => {
            let text = other.to_string();
            let what: Vec<&str> = text.split_whitespace().take(3).collect();
            Statement::Other {
                what: format!("`{} …`", what.join(" ")),
                at,
            }
        }
    }
}

/// A table's name as written, unquoted: its last part (weir has one
/// catalog and one database; `cat.db.t` is `t`).
fn table_name(name: &ast::ObjectName) -> String {
    name.0
        .last()
        .and_then(|p| p.as_ident())
        .map_or_else(|| name.to_string(), |i| i.value.clone())
}

/// The next token is the word `w` (not quoted): consume it.
fn word(p: &mut Parser, w: &str) -> bool {
    let is = matches!(&p.peek_token().token,
        Token::Word(x) if x.quote_style.is_none() && x.value.eq_ignore_ascii_case(w));
    if is {
        p.next_token();
    }
    is
}

/// Expect the word `w`.
fn expect_word(p: &mut Parser, w: &str) -> Result<(), ParserError> {
    if word(p, w) {
        Ok(())
    } else {
        p.expected(w, p.peek_token())
    }
}

/// The rest of `CREATE TABLE`, after the keywords.
fn create_table(p: &mut Parser, at: Pos) -> Result<TableDef, ParserError> {
    let name = table_name(&p.parse_object_name(false)?);
    let mut t = TableDef {
        name,
        columns: Vec::new(),
        watermark: None,
        primary_key: Vec::new(),
        computed: Vec::new(),
        unsupported: Vec::new(),
        options: BTreeMap::new(),
        at,
    };
    p.expect_token(&Token::LParen)?;
    loop {
        let here: Pos = p.peek_token().span.start.into();
        if word(p, "WATERMARK") {
            expect_word(p, "FOR")?;
            let column = p.parse_identifier()?.value;
            expect_word(p, "AS")?;
            let expr = p.parse_expr()?;
            t.watermark = Some(WatermarkDef {
                column,
                expr,
                at: here,
            });
        } else if word(p, "CONSTRAINT") {
            p.parse_identifier()?;
            primary_key(p, &mut t)?;
        } else if matches!(&p.peek_token().token, Token::Word(w) if w.quote_style.is_none() && w.value.eq_ignore_ascii_case("PRIMARY"))
        {
            primary_key(p, &mut t)?;
        } else {
            column(p, &mut t, here)?;
        }
        if p.consume_token(&Token::RParen) {
            break;
        }
        p.expect_token(&Token::Comma)?;
    }
    if word(p, "COMMENT") {
        p.parse_literal_string()?;
    }
    if word(p, "PARTITIONED") {
        t.unsupported
            .push(("PARTITIONED BY".into(), "a partitioned table", at));
        expect_word(p, "BY")?;
        p.expect_token(&Token::LParen)?;
        p.parse_comma_separated(|p| p.parse_identifier())?;
        p.expect_token(&Token::RParen)?;
    }
    expect_word(p, "WITH")?;
    p.expect_token(&Token::LParen)?;
    loop {
        let key = p.parse_literal_string()?;
        p.expect_token(&Token::Eq)?;
        let value = p.parse_literal_string()?;
        t.options.insert(key, value);
        if p.consume_token(&Token::RParen) {
            break;
        }
        p.expect_token(&Token::Comma)?;
    }
    Ok(t)
}

/// `PRIMARY KEY (a, b) NOT ENFORCED`.
fn primary_key(p: &mut Parser, t: &mut TableDef) -> Result<(), ParserError> {
    expect_word(p, "PRIMARY")?;
    expect_word(p, "KEY")?;
    p.expect_token(&Token::LParen)?;
    t.primary_key = p
        .parse_comma_separated(|p| p.parse_identifier())?
        .into_iter()
        .map(|i| i.value)
        .collect();
    p.expect_token(&Token::RParen)?;
    expect_word(p, "NOT")?;
    expect_word(p, "ENFORCED")
}

/// A column: physical, computed or metadata.
fn column(p: &mut Parser, t: &mut TableDef, at: Pos) -> Result<(), ParserError> {
    let name = p.parse_identifier()?.value;
    if word(p, "AS") {
        let expr = p.parse_expr()?;
        t.computed.push(ComputedDef {
            name,
            expr,
            position: t.columns.len() + t.computed.len(),
            at,
        });
        column_tail(p, t, "")?;
        return Ok(());
    }
    let ty = p.parse_data_type()?;
    let nullable = column_tail(p, t, &name)?;
    if word(p, "METADATA") {
        if word(p, "FROM") {
            p.parse_literal_string()?;
        }
        word(p, "VIRTUAL");
        t.unsupported.push((name, "a metadata column", at));
        return Ok(());
    }
    t.columns.push(ColumnDef {
        name,
        ty,
        nullable,
        at,
    });
    Ok(())
}

/// A column's `NOT NULL`, `PRIMARY KEY NOT ENFORCED` and `COMMENT`: is it
/// nullable?
fn column_tail(p: &mut Parser, t: &mut TableDef, name: &str) -> Result<bool, ParserError> {
    let mut nullable = true;
    loop {
        if word(p, "NOT") {
            expect_word(p, "NULL")?;
            nullable = false;
        } else if word(p, "NULL") {
        } else if word(p, "COMMENT") {
            p.parse_literal_string()?;
        } else if word(p, "PRIMARY") {
            expect_word(p, "KEY")?;
            expect_word(p, "NOT")?;
            expect_word(p, "ENFORCED")?;
            t.primary_key = vec![name.to_string()];
        } else {
            return Ok(nullable);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flink_ddl_is_read_with_its_watermark_key_and_options() {
        let s = parse_script(
            "CREATE TEMPORARY TABLE `orders` (
               id BIGINT NOT NULL,
               `user` STRING COMMENT 'who',
               price DECIMAL(10, 2),
               ts TIMESTAMP(3),
               cost AS price * 2,
               PRIMARY KEY (id) NOT ENFORCED,
               WATERMARK FOR ts AS ts - INTERVAL '5' SECOND
             ) COMMENT 'orders' WITH ('connector' = 'kafka', 'topic' = 'o');
             SET 'pipeline.name' = 'n';",
        )
        .unwrap();
        let Statement::CreateTable(t) = &s[0] else {
            panic!("{s:?}")
        };
        assert_eq!(t.name, "orders");
        let names: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["id", "user", "price", "ts"]);
        assert!(!t.columns[0].nullable && t.columns[1].nullable);
        assert_eq!(t.primary_key, ["id"]);
        assert_eq!(t.computed[0].name, "cost");
        assert_eq!(t.computed[0].position, 4);
        assert_eq!(t.computed[0].expr.to_string(), "price * 2");
        assert_eq!(
            t.computed[0].at,
            Pos {
                line: 6,
                column: 16
            }
        );
        assert_eq!(t.watermark.as_ref().unwrap().column, "ts");
        assert_eq!(t.options["topic"], "o");
        assert!(matches!(&s[1], Statement::Set { key, .. } if key == "pipeline.name"));
    }

    #[test]
    fn errors_say_where() {
        let e = parse_script("CREATE TABLE t (a BIGINT) WITH ('x' 'y')").unwrap_err();
        assert!(e.to_string().contains("Line: 1"), "{e}");
        let s = parse_script("DROP TABLE t").unwrap();
        assert!(matches!(&s[0], Statement::Other { what, .. } if what.contains("DROP")));
    }
}
