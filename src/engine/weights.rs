//! Feature id → weight for the scoring path.
//!
//! A model holds about a hundred thousand weights (a few MiB), more than a core's own cache, so
//! most of a comment's lookups wait on memory. Feature ids are already hashes, so the table needs no
//! hash function: one flat array of 12-byte `(id, weight)` slots (1.6 to 3.2 per weight), the slot
//! chosen by the id's low bits, linear probing, at most 5/8 full. A lookup reads one slot (one cache
//! line) in the common case, where a general hash map reads its control bytes and then its entry.

/// No feature id is 0 (every id carries its kind, numbered from 1), so 0 marks a free slot.
const FREE: u64 = 0;

/// An id and its weight in 12 bytes (no padding after the weight).
#[derive(Debug, Clone, Copy)]
#[repr(C, packed(4))]
struct Slot {
    id: u64,
    weight: f32,
}

const FREE_SLOT: Slot = Slot {
    id: FREE,
    weight: 0.0,
};

#[derive(Debug, Clone, Default)]
pub struct WeightTable {
    slots: Vec<Slot>,
    mask: usize,
    len: usize,
}

impl WeightTable {
    /// A table of `entries` (a later entry for the same id replaces an earlier one; id 0 is skipped).
    pub fn new(entries: impl ExactSizeIterator<Item = (u64, f32)>) -> Self {
        let mut capacity = 16;
        while capacity * 5 < entries.len() * 8 {
            capacity *= 2;
        }
        let mask = capacity - 1;
        let mut slots = vec![FREE_SLOT; capacity];
        let mut len = 0;
        for (id, weight) in entries {
            if id == FREE {
                continue;
            }
            let mut i = slot_of(id, mask);
            while slots[i].id != FREE && slots[i].id != id {
                i = (i + 1) & mask;
            }
            if slots[i].id == FREE {
                len += 1;
            }
            slots[i] = Slot { id, weight };
        }
        WeightTable { slots, mask, len }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Asks the memory for the slot `id` starts at, so that a later [`Self::get`] finds it in cache
    /// instead of waiting for it.
    #[inline]
    pub fn prefetch(&self, id: u64) {
        #[cfg(target_arch = "x86_64")]
        if let Some(slot) = self.slots.get(slot_of(id, self.mask)) {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            // SAFETY: a prefetch is a hint: it reads nothing into the program and never faults (and
            // this address is that of a live slot).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(std::ptr::from_ref(slot).cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = id;
    }

    #[inline]
    pub fn get(&self, id: u64) -> Option<f32> {
        let mut i = slot_of(id, self.mask);
        loop {
            let Slot { id: key, weight } = self.slots[i];
            if key == FREE {
                return None;
            }
            if key == id {
                return Some(weight);
            }
            i = (i + 1) & self.mask;
        }
    }
}

#[inline]
fn slot_of(id: u64, mask: usize) -> usize {
    // The low bits of an id are bits of a 64-bit hash (the kind sits in the high bits).
    id as usize & mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_what_it_holds_and_nothing_else() {
        // Ids sharing their low bits collide: probing must still tell them apart.
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
        // At most 5/8 full: an unknown id always reaches a free slot, soon.
        assert!(table.slots.len() * 5 >= table.len() * 8);
        assert_eq!(std::mem::size_of::<Slot>(), 12);
    }
}
