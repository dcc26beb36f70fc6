//! `/dev/random`, `/dev/urandom` and the generator behind them (and behind `getrandom`):
//! ChaCha20 (the `rand_chacha` crate) keyed from the kernel's entropy source, rekeyed from it
//! every [`RESEED_BYTES`] of output, with data written to the devices mixed into the key, as
//! Linux's `random.c` does with its ChaCha20-based CRNG. Like Linux since 5.6, `random` does
//! not block once seeded, so both devices read the same way.

use alloc::sync::Arc;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use spin::Mutex;
use syscall::Result;
use vfs::{CharDevice, FileOps};

/// Output between two rekeyings from the entropy source.
pub const RESEED_BYTES: u64 = 1 << 20;

/// Where fresh randomness comes from (RDRAND/RNDR, timer jitter...): the kernel provides it.
pub trait EntropySource: Send + Sync {
    /// Fills `buf` with the best randomness available.
    fn fill(&self, buf: &mut [u8]);
}

struct State {
    rng: ChaCha20Rng,
    since_reseed: u64,
}

/// A ChaCha20 CSPRNG over an [`EntropySource`].
pub struct Csprng {
    state: Mutex<State>,
    source: Arc<dyn EntropySource>,
}

impl Csprng {
    /// Keys the generator from `source`.
    pub fn new(source: Arc<dyn EntropySource>) -> Arc<Csprng> {
        let mut seed = [0u8; 32];
        source.fill(&mut seed);
        Arc::new(Csprng {
            state: Mutex::new(State {
                rng: ChaCha20Rng::from_seed(seed),
                since_reseed: 0,
            }),
            source,
        })
    }

    /// Fills `buf` (`getrandom`, reads of the devices).
    pub fn fill(&self, buf: &mut [u8]) {
        let mut state = self.state.lock();
        if state.since_reseed >= RESEED_BYTES {
            let mut fresh = [0u8; 32];
            self.source.fill(&mut fresh);
            Self::rekey(&mut state, &fresh);
        }
        state.rng.fill_bytes(buf);
        state.since_reseed += buf.len() as u64;
    }

    /// Mixes `data` into the key (writes to the devices): the new key is the old stream's
    /// next 32 bytes XORed with the data, 32 bytes at a time.
    pub fn mix(&self, data: &[u8]) {
        let mut state = self.state.lock();
        for chunk in data.chunks(32) {
            Self::rekey(&mut state, chunk);
        }
    }

    fn rekey(state: &mut State, input: &[u8]) {
        let mut key = [0u8; 32];
        state.rng.fill_bytes(&mut key);
        for (k, b) in key.iter_mut().zip(input) {
            *k ^= b;
        }
        state.rng = ChaCha20Rng::from_seed(key);
        state.since_reseed = 0;
    }
}

/// The `random`/`urandom` device.
pub struct Random(pub Arc<Csprng>);

impl FileOps for Random {
    fn read(&self, _offset: u64, buf: &mut [u8], _nonblock: bool) -> Result<usize> {
        self.0.fill(buf);
        Ok(buf.len())
    }

    fn write(&self, _offset: u64, buf: &[u8], _nonblock: bool) -> Result<usize> {
        self.0.mix(buf);
        Ok(buf.len())
    }

    fn seek_noop(&self) -> bool {
        true
    }
}

impl CharDevice for Random {}
