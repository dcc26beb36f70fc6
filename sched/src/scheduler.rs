//! Threads, per-CPU run queues and the context-switch path.

use crate::lock::IrqSpinLock;
use crate::run_queue::RunQueue;
use alloc::boxed::Box;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;
use arch_api::Arch;
use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};

/// CPUs the per-CPU tables have room for.
pub const MAX_CPUS: usize = 64;
/// Kernel stack of a spawned thread.
pub const STACK_SIZE: usize = 64 * 1024;
/// Timer ticks a thread runs before it is preempted (if another is ready).
pub const TIME_SLICE_TICKS: u32 = 1;

pub type ThreadId = u64;

/// Life cycle of a thread.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ThreadState {
    Ready = 0,
    Running = 1,
    Sleeping = 2,
    Exited = 3,
}

impl ThreadState {
    fn from_u8(v: u8) -> Self {
        match v {
            0 => Self::Ready,
            1 => Self::Running,
            2 => Self::Sleeping,
            _ => Self::Exited,
        }
    }
}

/// A kernel thread.
pub struct Thread<A: Arch> {
    id: ThreadId,
    name: String,
    state: AtomicU8,
    context: UnsafeCell<A::Context>,
    /// Owned kernel stack; `None` for a CPU's boot thread, and after the thread is reaped.
    stack: spin::Mutex<Option<Box<[u8]>>>,
    /// The user address space (page-table root) this thread runs in; 0 for none.
    user_root: AtomicU64,
    /// A number for the layer above (the process id of a user thread).
    tag: AtomicU64,
    /// Set by every [`Scheduler::wake`], consumed by the next block or sleep: a wake-up that
    /// comes after [`Scheduler::prepare_wait`] but before the thread blocks makes the block
    /// return at once instead of being lost. This is what lets wait conditions be checked
    /// with interrupts enabled (and so take ordinary locks that a preempted thread may hold).
    wake_pending: AtomicBool,
}

// SAFETY: `context` is only touched by the context switch, with the owning CPU's run-queue lock
// or interrupts masked, while the thread is not running anywhere else; all other fields are
// atomics, locks or immutable.
unsafe impl<A: Arch> Sync for Thread<A> {}

impl<A: Arch> Thread<A> {
    pub fn id(&self) -> ThreadId {
        self.id
    }
    pub fn name(&self) -> &str {
        &self.name
    }
    pub fn state(&self) -> ThreadState {
        ThreadState::from_u8(self.state.load(Ordering::Acquire))
    }
    /// The number the layer above attached (0 if none).
    pub fn tag(&self) -> u64 {
        self.tag.load(Ordering::Relaxed)
    }
    pub fn set_tag(&self, tag: u64) {
        self.tag.store(tag, Ordering::Relaxed);
    }
    fn set_state(&self, s: ThreadState) {
        self.state.store(s as u8, Ordering::Release);
    }
}

struct CpuState<A: Arch> {
    current: Option<Arc<Thread<A>>>,
    idle: Option<Arc<Thread<A>>>,
    queue: RunQueue<Arc<Thread<A>>>,
    /// Threads that exited; their stacks are freed once we run on another stack.
    dead: Vec<Arc<Thread<A>>>,
    slice_left: u32,
    threads: usize,
    /// The user root loaded on this CPU (0: none). Threads without one keep it loaded (the
    /// kernel half is the same everywhere); a root is only freed after its owner switched
    /// away from it through [`Scheduler::set_user_root`].
    active_root: u64,
}

impl<A: Arch> CpuState<A> {
    const fn new() -> Self {
        Self {
            current: None,
            idle: None,
            queue: RunQueue::new(),
            dead: Vec::new(),
            slice_left: TIME_SLICE_TICKS,
            threads: 0,
            active_root: 0,
        }
    }

    fn is_idle(&self, t: &Arc<Thread<A>>) -> bool {
        self.idle.as_ref().is_some_and(|i| Arc::ptr_eq(i, t))
    }

    /// Choose the next thread; returns the contexts to switch between, if a switch is due.
    fn pick_next(&mut self) -> Option<(*mut A::Context, *const A::Context)> {
        for t in self.dead.drain(..) {
            drop(t.stack.lock().take());
        }
        let cur = self.current.take()?;
        let next = match self.queue.pop() {
            Some(n) => n,
            None if cur.state() == ThreadState::Running => {
                self.current = Some(cur);
                self.slice_left = TIME_SLICE_TICKS;
                return None;
            }
            None => self.idle.clone()?,
        };
        match cur.state() {
            ThreadState::Running | ThreadState::Ready => {
                cur.set_state(ThreadState::Ready);
                if !self.is_idle(&cur) {
                    self.queue.push(cur.clone());
                }
            }
            ThreadState::Exited => self.dead.push(cur.clone()),
            // The sleepers list owns it now.
            ThreadState::Sleeping => {}
        }
        next.set_state(ThreadState::Running);
        let root = next.user_root.load(Ordering::Relaxed);
        if root != 0 && root != self.active_root {
            // SAFETY: a thread's root stays valid while it is set (its owner clears it before
            // freeing it), and it maps only that process's memory.
            unsafe { A::activate_user_root(Some(root)) };
            self.active_root = root;
        }
        let from = cur.context.get();
        let to = next.context.get() as *const A::Context;
        self.current = Some(next);
        self.slice_left = TIME_SLICE_TICKS;
        Some((from, to))
    }
}

struct Start<A: Arch> {
    sched: &'static Scheduler<A>,
    body: Box<dyn FnOnce() + Send>,
}

extern "C" fn thread_entry<A: Arch>(arg: usize) -> ! {
    // SAFETY: `arg` is the `Box::into_raw` made by `spawn` for this thread alone, and a thread
    // starts exactly once.
    let start = unsafe { Box::from_raw(arg as *mut Start<A>) };
    let Start { sched, body } = *start;
    A::irq_enable();
    body();
    sched.exit_current()
}

/// The scheduler: one run queue per CPU, round robin, preempted by [`Scheduler::tick`].
pub struct Scheduler<A: Arch> {
    cpus: [IrqSpinLock<CpuState<A>, A>; MAX_CPUS],
    ticks: AtomicU64,
    next_id: AtomicU64,
    switches: AtomicU64,
    /// Ticks that found a CPU running its idle thread.
    idle_ticks: AtomicU64,
    /// Tick period and the monotonic time of tick 0 (set by `start_ticks`).
    tick_ns: AtomicU64,
    tick_base_ns: AtomicU64,
}

impl<A: Arch> Default for Scheduler<A> {
    fn default() -> Self {
        Self::new()
    }
}

impl<A: Arch> Scheduler<A> {
    pub const fn new() -> Self {
        Self {
            cpus: [const { IrqSpinLock::new(CpuState::new()) }; MAX_CPUS],
            ticks: AtomicU64::new(0),
            next_id: AtomicU64::new(0),
            switches: AtomicU64::new(0),
            idle_ticks: AtomicU64::new(0),
            tick_ns: AtomicU64::new(0),
            tick_base_ns: AtomicU64::new(0),
        }
    }

    fn cpu(&self) -> &IrqSpinLock<CpuState<A>, A> {
        &self.cpus[A::cpu_id() % MAX_CPUS]
    }

    fn new_thread(
        &self,
        name: &str,
        context: A::Context,
        stack: Option<Box<[u8]>>,
    ) -> Arc<Thread<A>> {
        Arc::new(Thread {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            name: String::from(name),
            state: AtomicU8::new(ThreadState::Ready as u8),
            context: UnsafeCell::new(context),
            stack: spin::Mutex::new(stack),
            user_root: AtomicU64::new(0),
            tag: AtomicU64::new(0),
            wake_pending: AtomicBool::new(false),
        })
    }

    fn stack_and_context(&'static self, body: Box<dyn FnOnce() + Send>) -> (Box<[u8]>, A::Context) {
        let stack = vec![0u8; STACK_SIZE].into_boxed_slice();
        let top = (stack.as_ptr() as usize + STACK_SIZE) & !15;
        let start = Box::into_raw(Box::new(Start::<A> { sched: self, body }));
        (
            stack,
            A::init_context(top, thread_entry::<A>, start as usize),
        )
    }

    /// Adopt the code running now on this CPU as its first thread, and give the CPU an idle
    /// thread. Call once per CPU, before the timer starts.
    pub fn init_cpu(&'static self, name: &str) {
        let boot = self.new_thread(name, A::Context::default(), None);
        boot.set_state(ThreadState::Running);
        let (stack, ctx) = self.stack_and_context(Box::new(move || self.idle_loop()));
        let idle = self.new_thread("idle", ctx, Some(stack));
        let mut cpu = self.cpu().lock();
        cpu.current = Some(boot);
        cpu.idle = Some(idle);
        cpu.threads = 1;
        cpu.queue.reserve(4);
    }

    fn idle_loop(&'static self) -> ! {
        loop {
            A::wait_for_interrupt();
            self.schedule();
        }
    }

    /// Start a kernel thread running `f` on this CPU.
    pub fn spawn<F: FnOnce() + Send + 'static>(&'static self, name: &str, f: F) -> Arc<Thread<A>> {
        let (stack, ctx) = self.stack_and_context(Box::new(f));
        let t = self.new_thread(name, ctx, Some(stack));
        let mut cpu = self.cpu().lock();
        cpu.threads += 1;
        // Capacity for every thread, so interrupt-context queue operations never allocate.
        let n = cpu.threads;
        cpu.queue.reserve(n);
        cpu.dead.reserve(n);
        cpu.queue.push(t.clone());
        t
    }

    /// Switch to the next ready thread, if there is one.
    pub fn schedule(&'static self) {
        let was_enabled = A::irq_save_disable();
        let switch = self.cpu().lock().pick_next();
        if let Some((from, to)) = switch {
            self.switches.fetch_add(1, Ordering::Relaxed);
            // SAFETY: interrupts are masked; both contexts belong to live threads (the queue,
            // the sleepers, the dead list or `idle` keeps `from` alive), and they differ
            // because `pick_next` never picks the current thread.
            unsafe { A::switch(from, to) };
        }
        A::irq_restore(was_enabled);
    }

    /// Give up the CPU to the next ready thread.
    pub fn yield_now(&'static self) {
        self.schedule();
    }

    /// Declare the timer's rate before it starts, so that [`Scheduler::tick`] can make up for
    /// timer interrupts the machine dropped (an emulator under load coalesces them): like
    /// Linux's jiffies, the tick count follows the monotonic clock, not the interrupt count.
    pub fn start_ticks(&self, hz: u32) {
        self.tick_ns
            .store(1_000_000_000 / u64::from(hz.max(1)), Ordering::Relaxed);
        self.tick_base_ns.store(A::now_ns(), Ordering::Relaxed);
    }

    /// The timer interrupt: count the tick, wake sleepers, preempt at the end of a slice.
    pub fn tick(&'static self) {
        let period = self.tick_ns.load(Ordering::Relaxed);
        let due = match period {
            0 => 0,
            p => A::now_ns().saturating_sub(self.tick_base_ns.load(Ordering::Relaxed)) / p,
        };
        let counted = self.ticks.load(Ordering::Relaxed) + 1;
        let now = counted.max(due);
        self.ticks.store(now, Ordering::Relaxed);
        let preempt = {
            let mut cpu = self.cpu().lock();
            cpu.queue.wake_expired(now);
            cpu.slice_left = cpu.slice_left.saturating_sub(1);
            let idle = cpu.current.as_ref().is_some_and(|c| cpu.is_idle(c));
            if idle {
                self.idle_ticks.fetch_add(1, Ordering::Relaxed);
            }
            (cpu.slice_left == 0 || idle) && !cpu.queue.is_empty()
        };
        if preempt {
            self.schedule();
        }
    }

    /// Timer ticks since the timer started.
    pub fn ticks(&self) -> u64 {
        self.ticks.load(Ordering::Relaxed)
    }

    /// Time CPUs spent idle, in nanoseconds (counted in whole ticks).
    pub fn idle_ns(&self, tick_hz: u64) -> u64 {
        self.idle_ticks.load(Ordering::Relaxed) * (1_000_000_000 / tick_hz.max(1))
    }

    /// Context switches so far.
    pub fn switches(&self) -> u64 {
        self.switches.load(Ordering::Relaxed)
    }

    /// The running thread of this CPU.
    pub fn current(&self) -> Option<Arc<Thread<A>>> {
        self.cpu().lock().current.clone()
    }

    /// Start waiting for a wake-up: forget earlier ones. Then check the condition (any
    /// context, any locks) and call [`Scheduler::block_current`] or
    /// [`Scheduler::sleep_ticks`]; a [`Scheduler::wake`] since this call makes them return at
    /// once.
    pub fn prepare_wait(&self) {
        if let Some(cur) = self.current() {
            cur.wake_pending.store(false, Ordering::SeqCst);
        }
    }

    /// Sleep for at least `ticks` timer ticks, or less if woken (see
    /// [`Scheduler::prepare_wait`]).
    pub fn sleep_ticks(&'static self, ticks: u64) {
        self.sleep_until(|now| now + ticks.max(1));
    }

    /// Block the calling thread until [`Scheduler::wake`] names it or, with a deadline, until
    /// that tick. A wake-up since [`Scheduler::prepare_wait`] returns at once, so a wake-up
    /// between checking the condition and blocking is not lost (see [`crate::WaitQueue`]).
    /// Callers re-check their condition: a return can be spurious.
    pub fn block_current(&'static self, deadline: Option<u64>) {
        self.sleep_until(|_| deadline.unwrap_or(u64::MAX));
    }

    /// Sleep until tick `wake_at(now)` unless a wake-up came since [`Scheduler::prepare_wait`].
    fn sleep_until(&'static self, wake_at: impl FnOnce(u64) -> u64) {
        let was_enabled = A::irq_save_disable();
        {
            let mut cpu = self.cpu().lock();
            if cpu
                .current
                .as_ref()
                .is_some_and(|cur| cur.wake_pending.swap(false, Ordering::SeqCst))
            {
                drop(cpu);
                A::irq_restore(was_enabled);
                return;
            }
            let at = wake_at(self.ticks());
            if let Some(cur) = cpu.current.clone() {
                cur.set_state(ThreadState::Sleeping);
                cpu.queue.sleep(cur, at);
            }
        }
        self.schedule();
        A::irq_restore(was_enabled);
    }

    /// Make a blocked or sleeping thread ready now; a thread that is not blocked yet returns
    /// from its next block or sleep at once (see [`Scheduler::prepare_wait`]).
    pub fn wake(&'static self, t: &Arc<Thread<A>>) {
        t.wake_pending.store(true, Ordering::SeqCst);
        let mut cpu = self.cpu().lock();
        if t.state() == ThreadState::Sleeping {
            cpu.queue.wake_matching(|s| Arc::ptr_eq(s, t));
        }
    }

    /// Make `root` the user address space of the calling thread and load it now (`None`: no
    /// user address space, e.g. before the old one is freed).
    ///
    /// # Safety
    /// `root` must be a user root made by [`Arch::init_user_root`] that stays valid until the
    /// thread sets another one.
    pub unsafe fn set_user_root(&'static self, root: Option<u64>) {
        let mut cpu = self.cpu().lock();
        if let Some(cur) = cpu.current.clone() {
            cur.user_root.store(root.unwrap_or(0), Ordering::Relaxed);
        }
        // SAFETY: per this function's contract.
        unsafe { A::activate_user_root(root) };
        cpu.active_root = root.unwrap_or(0);
    }

    /// Wait until `t` has exited.
    pub fn join(&'static self, t: &Arc<Thread<A>>) {
        while t.state() != ThreadState::Exited {
            self.sleep_ticks(1);
        }
    }

    /// End the calling thread.
    pub fn exit_current(&'static self) -> ! {
        A::irq_save_disable();
        {
            let mut cpu = self.cpu().lock();
            if let Some(cur) = cpu.current.clone() {
                cur.set_state(ThreadState::Exited);
                cpu.threads -= 1;
            }
        }
        self.schedule();
        panic!("an exited thread was scheduled again");
    }
}
