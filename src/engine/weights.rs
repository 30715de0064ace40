//! Feature id → weight for the scoring path.
//!
//! A model holds about a hundred thousand weights (a few MiB), more than a core's own cache, so
//! most of a comment's lookups wait on memory. Feature ids are already hashes, so the table needs no
//! hash function: the id's low bits choose a bucket of one cache line holding up to [`WAYS`] ids and
//! their weights; a bucket that is full overflows into the next one. A lookup reads one cache line
//! and compares every id in it without branching on which one matches: of the buckets half full on
//! average, nearly every lookup is settled by its own (a linear probe over single slots went on to a
//! second slot in a quarter of lookups, a branch the processor could not foresee).

/// No feature id is 0 (every id carries its kind, numbered from 1), so 0 marks a free way.
const FREE: u64 = 0;

/// Ids and weights in a bucket: 5 of each fill 60 of its 64 bytes.
const WAYS: usize = 5;

/// Buckets hold this many entries on average (of [`WAYS`]): about one in nine is full.
const MEAN_LOAD: f64 = 2.5;

/// One cache line of ids and their weights, filled from the first way.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(64))]
struct Bucket {
    ids: [u64; WAYS],
    weights: [f32; WAYS],
}

const FREE_BUCKET: Bucket = Bucket {
    ids: [FREE; WAYS],
    weights: [0.0; WAYS],
};

/// A default table has no buckets: every lookup finds nothing.
#[derive(Debug, Clone, Default)]
pub struct WeightTable {
    buckets: Vec<Bucket>,
    len: usize,
}

impl WeightTable {
    /// A table of `entries` (a later entry for the same id replaces an earlier one; id 0 is skipped).
    pub fn new(entries: impl ExactSizeIterator<Item = (u64, f32)>) -> Self {
        let count = (entries.len() as f64 / MEAN_LOAD).ceil() as usize;
        let mut table = WeightTable {
            buckets: vec![FREE_BUCKET; count.max(1)],
            len: 0,
        };
        for (id, weight) in entries {
            if id != FREE {
                table.insert(id, weight);
            }
        }
        table
    }

    fn insert(&mut self, id: u64, weight: f32) {
        let mut b = self.bucket_of(id);
        loop {
            let bucket = &mut self.buckets[b];
            // The id is in the first bucket of its run that has room, or nowhere.
            if let Some(way) = bucket.ids.iter().position(|&k| k == id || k == FREE) {
                if bucket.ids[way] == FREE {
                    bucket.ids[way] = id;
                    self.len += 1;
                }
                bucket.weights[way] = weight;
                return;
            }
            b = self.next(b);
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Asks the memory for the bucket `id` starts at, so that a later [`Self::get`] finds it in cache
    /// instead of waiting for it.
    #[inline]
    pub fn prefetch(&self, id: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(bucket) = self.buckets.get(self.bucket_of(id)) {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: a prefetch is a hint: it reads nothing into the program and never faults (and
            // this address is that of a live bucket).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(bucket).cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = id;
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<f32> {
        if id == FREE {
            return None;
        }
        let mut b = self.bucket_of(id);
        loop {
            let bucket = self.buckets.get(b)?;
            // Every way compared, the weight picked without branching on which way holds it (the
            // compiler otherwise tests the ways one by one, a branch per way that the processor
            // cannot foresee). Bit 32 says whether one did (an id is in one way at most).
            let mut found = 0u64;
            for k in 0..WAYS {
                let entry = 1 << 32 | u64::from(bucket.weights[k].to_bits());
                found = std::hint::select_unpredictable(bucket.ids[k] == id, entry, found);
            }
            if found != 0 {
                return Some(f32::from_bits(found as u32));
            }
            // A bucket with room ends the run: the id is not in the table.
            if bucket.ids[WAYS - 1] == FREE {
                return None;
            }
            b = self.next(b);
        }
    }

    /// The bucket an id starts at: its low 32 bits (bits of a hash; the kind sits in the high
    /// bits) scaled to the number of buckets.
    #[inline]
    fn bucket_of(&self, id: u64) -> usize {
        (((id & 0xffff_ffff) * self.buckets.len() as u64) >> 32) as usize
    }

    #[inline]
    fn next(&self, b: usize) -> usize {
        if b + 1 == self.buckets.len() {
            0
        } else {
            b + 1
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_holds_and_nothing_else() {
        // Ids sharing their low bits share a bucket and overflow into the next ones: lookups must
        // still tell them apart, and find that ids of the same bucket not put in are absent.
        let entries: Vec<(u64, f32)> = (1..=40u64)
            .map(|i| ((i << 40) | (i % 3), i as f32))
            .collect();
        let table = WeightTable::new(entries.iter().copied());
        assert_eq!(table.len(), 40);
        for &(id, w) in &entries {
            assert_eq!(table.get(id), Some(w));
        }
        assert_eq!(table.get(0), None);
        assert_eq!(table.get(41 << 40 | 1), None);
        assert_eq!(table.get(1 << 40), None, "same low bits, another id");
        let again = WeightTable::new([(7, 1.0), (7, 2.0), (0, 3.0)].into_iter());
        assert_eq!(
            (again.len(), again.get(7), again.get(0)),
            (1, Some(2.0), None)
        );
        let empty = WeightTable::default();
        assert_eq!((empty.len(), empty.get(7)), (0, None));
        // Some bucket has room, so a lookup of an id not held always ends.
        assert!(table.buckets.iter().any(|b| b.ids[WAYS - 1] == FREE));
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
    }

    #[test]
    fn a_table_of_many_random_ids_finds_each_and_none_other() {
        // Hash-like ids, as features have: many buckets fill and overflow, runs wrap around the end.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let held: Vec<(u64, f32)> = (0..20_000).map(|i| (next() | 1, i as f32)).collect();
        let table = WeightTable::new(held.iter().copied());
        assert_eq!(table.len(), held.len());
        for &(id, w) in &held {
            assert_eq!(table.get(id), Some(w));
        }
        let full = table.buckets.iter().filter(|b| b.ids[WAYS - 1] != FREE);
        assert!(full.count() > 100, "some buckets overflow");
        let held: std::collections::HashSet<u64> = held.iter().map(|&(id, _)| id).collect();
        for _ in 0..20_000 {
            let id = next() | 1;
            assert_eq!(table.get(id).is_some(), held.contains(&id));
        }
    }
}
