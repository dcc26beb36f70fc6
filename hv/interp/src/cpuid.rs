//! CPUID (the table `KVM_SET_CPUID2` gave, or a default one describing what the interpreter
//! implements) and the MSRs it knows (SDM Vol. 4 for MSR numbers).

use crate::state::{FS, GS, Vcpu, cr0, efer};
use alloc::vec::Vec;
use hv::abi::x86::{KVM_CPUID_FLAG_SIGNIFCANT_INDEX, KvmCpuidEntry2};

/// MSR numbers.
pub(crate) mod msr {
    pub const TSC: u32 = 0x10;
    pub const APIC_BASE: u32 = 0x1b;
    pub const SYSENTER_CS: u32 = 0x174;
    pub const SYSENTER_ESP: u32 = 0x175;
    pub const SYSENTER_EIP: u32 = 0x176;
    pub const MISC_ENABLE: u32 = 0x1a0;
    pub const PAT: u32 = 0x277;
    pub const EFER: u32 = 0xc000_0080;
    pub const STAR: u32 = 0xc000_0081;
    pub const LSTAR: u32 = 0xc000_0082;
    pub const CSTAR: u32 = 0xc000_0083;
    pub const SFMASK: u32 = 0xc000_0084;
    pub const FS_BASE: u32 = 0xc000_0100;
    pub const GS_BASE: u32 = 0xc000_0101;
    pub const KERNEL_GS_BASE: u32 = 0xc000_0102;
    pub const TSC_AUX: u32 = 0xc000_0103;
}

static MSR_LIST: [u32; 16] = [
    msr::TSC,
    msr::APIC_BASE,
    msr::SYSENTER_CS,
    msr::SYSENTER_ESP,
    msr::SYSENTER_EIP,
    msr::MISC_ENABLE,
    msr::PAT,
    msr::EFER,
    msr::STAR,
    msr::LSTAR,
    msr::CSTAR,
    msr::SFMASK,
    msr::FS_BASE,
    msr::GS_BASE,
    msr::KERNEL_GS_BASE,
    msr::TSC_AUX,
];

/// The MSRs `KVM_GET_MSR_INDEX_LIST` lists.
pub fn msr_index_list() -> &'static [u32] {
    &MSR_LIST
}

/// `(function, index, eax, ebx, ecx, edx)` of the default table.
const DEFAULT: [(u32, u32, u32, u32, u32, u32); 6] = [
    // Max basic leaf 7, "GenuineIntel".
    (0, 0, 7, 0x756e_6547, 0x6c65_746e, 0x4965_6e69),
    // Family 6; CX16, POPCNT, hypervisor; PSE TSC MSR PAE CX8 SEP PGE CMOV PAT CLFSH.
    (
        1,
        0,
        0x0003_06a9,
        0x0000_0800,
        (1 << 13) | (1 << 23) | (1 << 31),
        0x0009_a978,
    ),
    (7, 0, 0, 0, 0, 0),
    (0x8000_0000, 0, 0x8000_0008, 0, 0, 0),
    // LAHF in 64-bit mode, ABM (LZCNT); SYSCALL, NX, RDTSCP, LM.
    (
        0x8000_0001,
        0,
        0,
        0,
        1 | (1 << 5),
        (1 << 11) | (1 << 20) | (1 << 27) | (1 << 29),
    ),
    // 48-bit linear, 40-bit physical addresses.
    (0x8000_0008, 0, 0x3028, 0, 0, 0),
];

/// What `KVM_GET_SUPPORTED_CPUID` offers: the leaves the interpreter implements.
pub fn supported_cpuid() -> Vec<KvmCpuidEntry2> {
    DEFAULT
        .iter()
        .map(|&(function, index, eax, ebx, ecx, edx)| KvmCpuidEntry2 {
            function,
            index,
            flags: if function == 7 {
                KVM_CPUID_FLAG_SIGNIFCANT_INDEX
            } else {
                0
            },
            eax,
            ebx,
            ecx,
            edx,
            padding: [0; 3],
        })
        .collect()
}

impl Vcpu {
    /// CPUID leaf `leaf`, subleaf `sub`: `[eax, ebx, ecx, edx]`. Without a `set_cpuid` table,
    /// the default; an absent leaf reads as zeros.
    pub(crate) fn cpuid_lookup(&self, leaf: u32, sub: u32) -> [u32; 4] {
        if self.cpuid.is_empty() {
            for &(f, i, a, b, c, d) in DEFAULT.iter() {
                if f == leaf && (f != 7 || i == sub) {
                    return [a, b, c, d];
                }
            }
            return [0; 4];
        }
        for e in &self.cpuid {
            if e.function == leaf
                && (e.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX == 0 || e.index == sub)
            {
                return [e.eax, e.ebx, e.ecx, e.edx];
            }
        }
        [0; 4]
    }

    /// Bit `bit` of register `reg` (0 EAX .. 3 EDX) of a CPUID leaf.
    pub(crate) fn feature(&self, leaf: u32, sub: u32, reg: usize, bit: u32) -> bool {
        self.cpuid_lookup(leaf, sub)[reg & 3] & (1 << bit) != 0
    }

    /// LAHF/SAHF are valid in 64-bit mode.
    pub(crate) fn has_lahf64(&self) -> bool {
        self.feature(0x8000_0001, 0, 2, 0)
    }

    /// The time stamp counter: advances by one per instruction, so runs are reproducible.
    pub(crate) fn tsc(&self) -> u64 {
        self.msrs.tsc.wrapping_add(self.retired)
    }

    /// `KVM_GET_MSRS` for one MSR: `None` if the interpreter does not know it.
    pub fn msr(&self, index: u32) -> Option<u64> {
        let m = &self.msrs;
        Some(match index {
            msr::TSC => self.tsc(),
            msr::APIC_BASE => self.apic_base,
            msr::SYSENTER_CS => m.sysenter_cs,
            msr::SYSENTER_ESP => m.sysenter_esp,
            msr::SYSENTER_EIP => m.sysenter_eip,
            msr::MISC_ENABLE => m.misc_enable,
            msr::PAT => m.pat,
            msr::EFER => self.efer,
            msr::STAR => m.star,
            msr::LSTAR => m.lstar,
            msr::CSTAR => m.cstar,
            msr::SFMASK => m.sfmask,
            msr::FS_BASE => self.seg[FS].base,
            msr::GS_BASE => self.seg[GS].base,
            msr::KERNEL_GS_BASE => m.kernel_gs_base,
            msr::TSC_AUX => m.tsc_aux,
            _ => return None,
        })
    }

    /// `KVM_SET_MSRS` for one MSR: `false` if it is unknown or the value is refused (a guest
    /// WRMSR then takes #GP).
    pub fn set_msr(&mut self, index: u32, value: u64) -> bool {
        let canonical = crate::alu::sext(value, 6) == value;
        let m = &mut self.msrs;
        match index {
            msr::TSC => m.tsc = value.wrapping_sub(self.retired),
            msr::APIC_BASE => self.apic_base = value,
            msr::SYSENTER_CS => m.sysenter_cs = value,
            msr::SYSENTER_ESP => m.sysenter_esp = value,
            msr::SYSENTER_EIP => m.sysenter_eip = value,
            msr::MISC_ENABLE => m.misc_enable = value,
            msr::PAT => m.pat = value,
            msr::EFER => {
                let allowed = efer::SCE | efer::LME | efer::LMA | efer::NXE;
                if value & !allowed != 0 {
                    return false;
                }
                let paging = self.cr0 & cr0::PG != 0;
                if paging && (value ^ self.efer) & efer::LME != 0 {
                    return false;
                }
                // LMA follows LME and CR0.PG; a write cannot change it while paging.
                let lma = if paging {
                    self.efer & efer::LMA
                } else {
                    value & efer::LMA
                };
                self.efer = (value & !efer::LMA) | lma;
                self.flush_tlb();
            }
            msr::STAR => m.star = value,
            msr::LSTAR | msr::CSTAR | msr::FS_BASE | msr::GS_BASE | msr::KERNEL_GS_BASE
                if !canonical =>
            {
                return false;
            }
            msr::LSTAR => m.lstar = value,
            msr::CSTAR => m.cstar = value,
            msr::SFMASK => m.sfmask = value & 0xffff_ffff,
            msr::FS_BASE => self.seg[FS].base = value,
            msr::GS_BASE => self.seg[GS].base = value,
            msr::KERNEL_GS_BASE => m.kernel_gs_base = value,
            msr::TSC_AUX => m.tsc_aux = value & 0xffff_ffff,
            _ => return false,
        }
        true
    }
}
