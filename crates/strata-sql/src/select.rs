//! Planning one SELECT as a view: a window Top-N ([`topn`]) or any other query ([`query`]),
//! after the check for what is not supported yet ([`crate::missing`]). Below the statement
//! parsers (`parser`, `pull`, `statements`), which all plan queries through it.

use sqlparser::tokenizer::{Location, TokenWithSpan};

use crate::catalog::Catalog;
use crate::error::Result;
use crate::plan::ViewPlan;
use crate::{query, topn};

/// Plans a query as view `name`: a window Top-N ([`topn`]) or any other query ([`query`]).
pub(crate) fn plan_view(
    toks: &[TokenWithSpan],
    end: Location,
    name: &str,
    catalog: &dyn Catalog,
) -> Result<ViewPlan> {
    crate::missing::check(toks)?;
    if topn::tokens_are_window_topn(toks) {
        return Ok(topn::plan_window_topn(toks, end, name, catalog)?.into_view());
    }
    query::plan_query(toks, end, name, catalog)
}
