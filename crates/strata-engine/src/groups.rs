//! The keyed state's bookkeeping: distinct keys, and the groups (key × window) under them.
//!
//! Each distinct key (its arrow-row bytes) is stored once and gets a dense key id; a group is
//! a key id plus a window and gets a dense group id, which indexes the column-wise
//! accumulators. A key's *open* groups are kept sorted by window start beside it, so finding
//! the group of a row is one hash probe for the key and a binary search among a handful of
//! windows — no allocation, no pointer chasing per row. Each key also remembers its two most
//! recently used groups in a small array that stays in L1 cache, and where in its list it
//! last searched: rows in time order (a window, or the one beside it) skip the search, which
//! matters for a bounded run, which keeps every window open (a key has hundreds). Closed
//! groups leave that list (rows never update them again) but keep their key alive until they
//! are released.

use std::hash::BuildHasher;

use serde::{Deserialize, Serialize};
use smallvec::SmallVec;

/// A key's arrow-row bytes; short keys (numbers, short strings) live inline, so a probe reads
/// one cache line instead of chasing a pointer.
type KeyBytes = SmallVec<[u8; 24]>;

/// An open group of a key, with its window inline so that assigning a row reads no other
/// array.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenWindow {
    /// Window start.
    pub start: i64,
    /// Window end.
    pub end: i64,
    /// The group.
    pub group: u32,
}

/// A key's open groups, by start; most keys have one or two (streaming), so they live inline.
type OpenList = SmallVec<[OpenWindow; 2]>;

/// No group (an empty slot of [`Recent`]).
const NO_GROUP: u32 = u32::MAX;

/// A key's two most recently used open groups (slot 0 the latest), and where in its open list
/// the last search ended. Detaching a group empties its slot, so a slot is never stale; the
/// position is only a hint, checked before use.
#[derive(Debug, Clone, Copy)]
struct Recent {
    starts: [i64; 2],
    groups: [u32; 2],
    position: u32,
}

impl Default for Recent {
    fn default() -> Self {
        Recent {
            starts: [0; 2],
            groups: [NO_GROUP; 2],
            position: 0,
        }
    }
}

/// Distinct keys and the groups under them.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GroupTable {
    key_rows: Vec<KeyBytes>,
    key_refs: Vec<u32>,
    key_open: Vec<OpenList>,
    free_keys: Vec<u32>,
    group_key: Vec<u32>,
    windows: Vec<(i64, i64)>,
    live: Vec<bool>,
    closed: Vec<bool>,
    free: Vec<u32>,
    /// Per key, its recently used groups.
    #[serde(skip)]
    key_recent: Vec<Recent>,
    /// Every live group of each key, open or closed (for lookups by key).
    #[serde(skip)]
    key_groups: Vec<SmallVec<[u32; 2]>>,
    #[serde(skip)]
    index: hashbrown::HashTable<u32>,
    #[serde(skip)]
    hasher: foldhash::fast::FixedState,
}

impl GroupTable {
    /// The id of key `row`, adding it if new.
    pub fn key_id(&mut self, row: &[u8]) -> u32 {
        let hash = self.hasher.hash_one(row);
        let rows = &self.key_rows;
        if let Some(&k) = self
            .index
            .find(hash, |&k| rows[k as usize].as_slice() == row)
        {
            return k;
        }
        let k = match self.free_keys.pop() {
            Some(k) => {
                self.key_rows[k as usize] = KeyBytes::from_slice(row);
                if let Some(r) = self.key_recent.get_mut(k as usize) {
                    *r = Recent::default();
                }
                k
            }
            None => {
                self.key_rows.push(KeyBytes::from_slice(row));
                self.key_refs.push(0);
                self.key_open.push(OpenList::new());
                self.key_recent.push(Recent::default());
                self.key_groups.push(SmallVec::new());
                (self.key_rows.len() - 1) as u32
            }
        };
        let (rows, hasher) = (&self.key_rows, &self.hasher);
        self.index
            .insert_unique(hash, k, |&x| hasher.hash_one(rows[x as usize].as_slice()));
        k
    }

    /// The id of key `row`, if some live group has it.
    pub fn find_key(&self, row: &[u8]) -> Option<u32> {
        let hash = self.hasher.hash_one(row);
        self.index
            .find(hash, |&k| self.key_rows[k as usize].as_slice() == row)
            .copied()
    }

    /// Every live group of key `k`, open or closed, in no particular order.
    pub fn groups_of_key(&self, k: u32) -> &[u32] {
        &self.key_groups[k as usize]
    }

    /// The open group of key `k` whose window starts at `start`.
    #[inline]
    pub fn find_open(&mut self, k: u32, start: i64) -> Option<u32> {
        if let Some(r) = self.key_recent.get(k as usize) {
            // Selected without branches: rows alternate between two windows unpredictably.
            let g = if r.starts[0] == start {
                r.groups[0]
            } else if r.starts[1] == start {
                r.groups[1]
            } else {
                NO_GROUP
            };
            if g != NO_GROUP {
                return Some(g);
            }
        }
        self.search_open(k, start)
    }

    /// [`Self::find_open`] past the recent groups: the last search's position and its
    /// neighbours, then a binary search.
    fn search_open(&mut self, k: u32, start: i64) -> Option<u32> {
        let open = &self.key_open[k as usize];
        let hint = self
            .key_recent
            .get(k as usize)
            .map_or(0, |r| r.position as usize);
        // Open starts are distinct.
        let i = [hint, hint + 1, hint.wrapping_sub(1)]
            .into_iter()
            .find(|&i| open.get(i).is_some_and(|w| w.start == start))
            .or_else(|| open.binary_search_by_key(&start, |w| w.start).ok())?;
        let g = open[i].group;
        self.remember(k, start, g, i);
        Some(g)
    }

    fn remember(&mut self, k: u32, start: i64, g: u32, position: usize) {
        if let Some(r) = self.key_recent.get_mut(k as usize) {
            r.starts = [start, r.starts[0]];
            r.groups = [g, r.groups[0]];
            r.position = position as u32;
        }
    }

    /// The open groups of key `k`, by window start.
    pub fn open_groups(&self, k: u32) -> &[OpenWindow] {
        &self.key_open[k as usize]
    }

    /// Opens a new group of key `k` over `window`. Returns its id and whether the id space
    /// grew (so accumulators must make room).
    pub fn open_group(&mut self, k: u32, window: (i64, i64)) -> (u32, bool) {
        let (g, grew) = match self.free.pop() {
            Some(g) => {
                let i = g as usize;
                self.group_key[i] = k;
                self.windows[i] = window;
                self.live[i] = true;
                self.closed[i] = false;
                (g, false)
            }
            None => {
                self.group_key.push(k);
                self.windows.push(window);
                self.live.push(true);
                self.closed.push(false);
                ((self.group_key.len() - 1) as u32, true)
            }
        };
        self.key_refs[k as usize] += 1;
        self.key_groups[k as usize].push(g);
        self.attach(k, g, window);
        (g, grew)
    }

    /// Moves open group `g` to a new window (a session that grew).
    pub fn set_window(&mut self, g: u32, window: (i64, i64)) {
        self.detach(g);
        self.windows[g as usize] = window;
        self.attach(self.group_key[g as usize], g, window);
    }

    fn attach(&mut self, k: u32, g: u32, (start, end): (i64, i64)) {
        let open = &mut self.key_open[k as usize];
        let at = open.partition_point(|w| w.start <= start);
        open.insert(
            at,
            OpenWindow {
                start,
                end,
                group: g,
            },
        );
        // The next row of this key most likely falls into the window it just opened.
        self.remember(k, start, g, at);
    }

    /// Takes `g` out of its key's open list (it can no longer be found by rows).
    pub fn detach(&mut self, g: u32) {
        let k = self.group_key[g as usize] as usize;
        let open = &mut self.key_open[k];
        if let Some(i) = open.iter().position(|w| w.group == g) {
            open.remove(i);
        }
        if let Some(r) = self.key_recent.get_mut(k) {
            for slot in &mut r.groups {
                if *slot == g {
                    *slot = NO_GROUP;
                }
            }
        }
    }

    /// Marks `g` closed: detached, still live (queryable) until released.
    pub fn close(&mut self, g: u32) {
        self.detach(g);
        self.closed[g as usize] = true;
    }

    /// Frees `g`'s id; its key is freed too when no live group uses it any more.
    pub fn release(&mut self, g: u32) {
        let i = g as usize;
        if !self.closed[i] {
            self.detach(g);
        }
        self.live[i] = false;
        self.closed[i] = false;
        self.free.push(g);
        let k = self.group_key[i];
        let groups = &mut self.key_groups[k as usize];
        if let Some(at) = groups.iter().position(|&x| x == g) {
            groups.swap_remove(at);
        }
        let refs = &mut self.key_refs[k as usize];
        *refs -= 1;
        if *refs == 0 {
            let hash = self.hasher.hash_one(self.key_rows[k as usize].as_slice());
            if let Ok(entry) = self.index.find_entry(hash, |&x| x == k) {
                entry.remove();
            }
            self.key_rows[k as usize] = KeyBytes::new();
            self.free_keys.push(k);
        }
    }

    /// Number of group ids ever handed out (accumulators are this long).
    pub fn capacity(&self) -> usize {
        self.group_key.len()
    }

    /// True while `g` is open: rows can still update it.
    pub fn is_open(&self, g: u32) -> bool {
        self.live[g as usize] && !self.closed[g as usize]
    }

    /// The window of `g`.
    pub fn window(&self, g: u32) -> (i64, i64) {
        self.windows[g as usize]
    }

    /// The key bytes of `g`.
    pub fn key_row(&self, g: u32) -> &[u8] {
        &self.key_rows[self.group_key[g as usize] as usize]
    }

    /// The live groups.
    pub fn live_groups(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.live.len() as u32).filter(|&g| self.live[g as usize])
    }

    /// Rebuilds the key indexes after deserialization.
    pub fn rebuild_index(&mut self) {
        self.key_recent = vec![Recent::default(); self.key_rows.len()];
        self.key_groups = vec![SmallVec::new(); self.key_rows.len()];
        for g in self.live_groups().collect::<Vec<_>>() {
            self.key_groups[self.group_key[g as usize] as usize].push(g);
        }
        self.index.clear();
        for (k, row) in self.key_rows.iter().enumerate() {
            if self.key_refs[k] > 0 {
                let hash = self.hasher.hash_one(row.as_slice());
                let (rows, hasher) = (&self.key_rows, &self.hasher);
                self.index.insert_unique(hash, k as u32, |&x| {
                    hasher.hash_one(rows[x as usize].as_slice())
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_are_found_by_key_and_start_and_keys_are_recycled() {
        let mut t = GroupTable::default();
        let a = t.key_id(b"a");
        assert_eq!(t.key_id(b"a"), a);
        let (g1, grew) = t.open_group(a, (10, 20));
        assert!(grew);
        let (g0, _) = t.open_group(a, (0, 10));
        assert_eq!(t.find_open(a, 0), Some(g0));
        assert_eq!(t.find_open(a, 10), Some(g1));
        let open: Vec<(i64, u32)> = t
            .open_groups(a)
            .iter()
            .map(|w| (w.start, w.group))
            .collect();
        assert_eq!(open, vec![(0, g0), (10, g1)]);
        t.close(g0);
        assert_eq!(t.find_open(a, 0), None);
        assert_eq!(t.key_row(g0), b"a", "a closed group keeps its key");
        let mut of_a = t.groups_of_key(a).to_vec();
        of_a.sort_unstable();
        assert_eq!(
            of_a,
            vec![g1.min(g0), g1.max(g0)],
            "closed groups stay findable by key"
        );
        assert_eq!(t.find_key(b"a"), Some(a));
        assert_eq!(t.find_key(b"zz"), None);
        t.release(g0);
        t.release(g1);
        let b = t.key_id(b"b");
        assert_eq!(b, a, "the key id is reused once no group uses it");
        let (g, grew) = t.open_group(b, (5, 6));
        assert!(!grew, "group ids are reused");
        assert!(g == g0 || g == g1);
        let mut restored: GroupTable =
            serde_json::from_str(&serde_json::to_string(&t).expect("ser")).expect("de");
        restored.rebuild_index();
        assert_eq!(restored.find_key(b"b"), Some(b));
        assert_eq!(restored.groups_of_key(b), &[g]);
        assert_eq!(restored.key_id(b"b"), b);
    }

    proptest::proptest! {
        /// `find_open` (with its position hint) answers like a scan of the open list, through
        /// opens, closes, releases and sessions moving.
        #[test]
        fn find_open_matches_a_scan(
            ops in proptest::collection::vec((0u8..5, 0u8..3, 0i64..40), 1..200)
        ) {
            let mut t = GroupTable::default();
            let keys = [t.key_id(b"a"), t.key_id(b"b"), t.key_id(b"c")];
            for (op, key, start) in ops {
                let k = keys[key as usize];
                let scan = t.open_groups(k).iter().find(|w| w.start == start).map(|w| w.group);
                match (op, scan) {
                    (0, None) => {
                        t.open_group(k, (start, start + 1));
                    }
                    (1, Some(g)) => t.close(g),
                    (2, Some(g)) if t.open_groups(k).iter().all(|w| w.start != start + 1) => {
                        t.set_window(g, (start + 1, start + 2));
                    }
                    // Releasing keeps the key alive as long as it has another group.
                    (3, Some(g)) if t.groups_of_key(k).len() > 1 => t.release(g),
                    _ => {}
                }
                for s in [start, start + 1, start - 1] {
                    let scan = t.open_groups(k).iter().find(|w| w.start == s).map(|w| w.group);
                    proptest::prop_assert_eq!(t.find_open(k, s), scan);
                }
            }
        }
    }
}
