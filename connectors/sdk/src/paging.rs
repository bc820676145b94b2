//! Cursors. The host treats a cursor as opaque; these helpers give the usual ones
//! a readable form (`page:3`, `offset:500`) and reject a cursor the connector did not
//! make as a protocol error rather than a panic.

use crate::ConnectorError;

fn bad(cursor: &str) -> ConnectorError {
    ConnectorError::Protocol(format!("cursor {cursor:?} was not made by this connector"))
}

/// The page number a `page:N` cursor names; no cursor is page `first`.
pub fn page_number(cursor: Option<&str>, first: u32) -> Result<u32, ConnectorError> {
    match cursor {
        None => Ok(first),
        Some(c) => c
            .strip_prefix("page:")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad(c)),
    }
}

/// The cursor of page `n`.
pub fn page_cursor(n: u32) -> String {
    format!("page:{n}")
}

/// For vendors that say nothing of the last page (Rent Manager: `pageSize` and
/// `pageNumber`, a 204 or a short page at the end): the next page's cursor while a page
/// came back full, `None` after a short or empty one.
pub fn next_if_full(page: u32, records: usize, page_size: usize) -> Option<String> {
    (records >= page_size.max(1)).then(|| page_cursor(page + 1))
}

/// Every record of a paged read, in order, for a connector that needs a whole list
/// (a lookup table another read joins against): `read` is called with no cursor, then
/// with each cursor it returns, until it returns none. A cursor seen twice is a
/// protocol error (the vendor's paging would never end).
pub fn all_pages<T>(
    mut read: impl FnMut(Option<&str>) -> Result<(Vec<T>, Option<String>), ConnectorError>,
) -> Result<Vec<T>, ConnectorError> {
    let mut all = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut cursor: Option<String> = None;
    loop {
        let (records, next) = read(cursor.as_deref())?;
        all.extend(records);
        match next {
            Some(n) if !seen.insert(n.clone()) => return Err(bad(&n)),
            Some(n) => cursor = Some(n),
            None => return Ok(all),
        }
    }
}

/// The offset an `offset:N` cursor names; no cursor is offset 0.
pub fn offset(cursor: Option<&str>) -> Result<usize, ConnectorError> {
    match cursor {
        None => Ok(0),
        Some(c) => c
            .strip_prefix("offset:")
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| bad(c)),
    }
}

/// The cursor of offset `n`.
pub fn offset_cursor(n: usize) -> String {
    format!("offset:{n}")
}

/// One page of an in-memory list (a vendor without pagination answered with the
/// whole property): the records at the cursor's offset and the next cursor.
pub fn slice<T: Clone>(
    items: &[T],
    cursor: Option<&str>,
    page_size: usize,
) -> Result<(Vec<T>, Option<String>), ConnectorError> {
    let start = offset(cursor)?;
    if start > items.len() {
        return Err(bad(cursor.unwrap_or_default()));
    }
    let end = (start + page_size.max(1)).min(items.len());
    let next = (end < items.len()).then(|| offset_cursor(end));
    Ok((items[start..end].to_vec(), next))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_cursors_round_trip_and_foreign_cursors_are_refused() {
        assert_eq!(page_number(None, 1).unwrap(), 1);
        assert_eq!(page_number(Some(&page_cursor(7)), 1).unwrap(), 7);
        assert!(page_number(Some("7"), 1).is_err());
        assert_eq!(offset(Some(&offset_cursor(500))).unwrap(), 500);
        assert!(offset(Some("page:2")).is_err());
    }

    #[test]
    fn a_short_or_empty_page_is_the_last() {
        assert_eq!(next_if_full(1, 50, 50).as_deref(), Some("page:2"));
        assert_eq!(next_if_full(2, 49, 50), None);
        assert_eq!(next_if_full(3, 0, 50), None, "a 204 has no records");
    }

    #[test]
    fn slicing_visits_every_item_exactly_once() {
        let items: Vec<u32> = (0..10).collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let (page, next) = slice(&items, cursor.as_deref(), 3).unwrap();
            seen.extend(page);
            match next {
                Some(n) => cursor = Some(n),
                None => break,
            }
        }
        assert_eq!(seen, items);
        assert!(slice(&items, Some("offset:11"), 3).is_err());
        assert_eq!(slice::<u32>(&[], None, 3).unwrap(), (vec![], None));
    }

    #[test]
    fn all_pages_follows_cursors_and_stops_on_a_repeated_one() {
        let pages = |c: Option<&str>| {
            Ok(match c {
                None => (vec![1, 2], Some(page_cursor(2))),
                Some("page:2") => (vec![3], None),
                Some(other) => panic!("{other}"),
            })
        };
        assert_eq!(all_pages(pages).unwrap(), [1, 2, 3]);
        let looping = |_: Option<&str>| Ok((vec![0], Some(page_cursor(1))));
        assert!(matches!(
            all_pages(looping),
            Err(ConnectorError::Protocol(_))
        ));
    }
}
