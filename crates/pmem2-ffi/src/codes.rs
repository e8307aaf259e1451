//! The `PMEM2_E_*` return codes of the C API, with the values of PMDK's
//! `libpmem2/base.h` (and of `include/libpmem2/base.h`). Each equals
//! [`Error::code`](pmem2::Error::code) of the matching variant, which the
//! tests below check for every code.

/// `PMEM2_E_UNKNOWN`.
pub const PMEM2_E_UNKNOWN: i32 = -100_000;
/// `PMEM2_E_NOSUPP`.
pub const PMEM2_E_NOSUPP: i32 = -100_001;
/// `PMEM2_E_FILE_HANDLE_NOT_SET`.
pub const PMEM2_E_FILE_HANDLE_NOT_SET: i32 = -100_003;
/// `PMEM2_E_INVALID_FILE_HANDLE`.
pub const PMEM2_E_INVALID_FILE_HANDLE: i32 = -100_004;
/// `PMEM2_E_INVALID_FILE_TYPE`.
pub const PMEM2_E_INVALID_FILE_TYPE: i32 = -100_005;
/// `PMEM2_E_MAP_RANGE`.
pub const PMEM2_E_MAP_RANGE: i32 = -100_006;
/// `PMEM2_E_MAPPING_EXISTS`.
pub const PMEM2_E_MAPPING_EXISTS: i32 = -100_007;
/// `PMEM2_E_GRANULARITY_NOT_SET`.
pub const PMEM2_E_GRANULARITY_NOT_SET: i32 = -100_008;
/// `PMEM2_E_GRANULARITY_NOT_SUPPORTED`.
pub const PMEM2_E_GRANULARITY_NOT_SUPPORTED: i32 = -100_009;
/// `PMEM2_E_OFFSET_OUT_OF_RANGE`.
pub const PMEM2_E_OFFSET_OUT_OF_RANGE: i32 = -100_010;
/// `PMEM2_E_OFFSET_UNALIGNED`.
pub const PMEM2_E_OFFSET_UNALIGNED: i32 = -100_011;
/// `PMEM2_E_INVALID_ALIGNMENT_FORMAT`.
pub const PMEM2_E_INVALID_ALIGNMENT_FORMAT: i32 = -100_012;
/// `PMEM2_E_INVALID_ALIGNMENT_VALUE`.
pub const PMEM2_E_INVALID_ALIGNMENT_VALUE: i32 = -100_013;
/// `PMEM2_E_INVALID_SIZE_FORMAT`.
pub const PMEM2_E_INVALID_SIZE_FORMAT: i32 = -100_014;
/// `PMEM2_E_LENGTH_UNALIGNED`.
pub const PMEM2_E_LENGTH_UNALIGNED: i32 = -100_015;
/// `PMEM2_E_MAPPING_NOT_FOUND`.
pub const PMEM2_E_MAPPING_NOT_FOUND: i32 = -100_016;
/// `PMEM2_E_BUFFER_TOO_SMALL`.
pub const PMEM2_E_BUFFER_TOO_SMALL: i32 = -100_017;
/// `PMEM2_E_SOURCE_EMPTY`.
pub const PMEM2_E_SOURCE_EMPTY: i32 = -100_018;
/// `PMEM2_E_INVALID_SHARING_VALUE`.
pub const PMEM2_E_INVALID_SHARING_VALUE: i32 = -100_019;
/// `PMEM2_E_SRC_DEVDAX_PRIVATE`.
pub const PMEM2_E_SRC_DEVDAX_PRIVATE: i32 = -100_020;
/// `PMEM2_E_INVALID_ADDRESS_REQUEST_TYPE`.
pub const PMEM2_E_INVALID_ADDRESS_REQUEST_TYPE: i32 = -100_021;
/// `PMEM2_E_ADDRESS_UNALIGNED`.
pub const PMEM2_E_ADDRESS_UNALIGNED: i32 = -100_022;
/// `PMEM2_E_ADDRESS_NULL`.
pub const PMEM2_E_ADDRESS_NULL: i32 = -100_023;
/// `PMEM2_E_DEEP_FLUSH_RANGE`.
pub const PMEM2_E_DEEP_FLUSH_RANGE: i32 = -100_024;
/// `PMEM2_E_INVALID_REGION_FORMAT`.
pub const PMEM2_E_INVALID_REGION_FORMAT: i32 = -100_025;
/// `PMEM2_E_DAX_REGION_NOT_FOUND`.
pub const PMEM2_E_DAX_REGION_NOT_FOUND: i32 = -100_026;
/// `PMEM2_E_INVALID_DEV_FORMAT`.
pub const PMEM2_E_INVALID_DEV_FORMAT: i32 = -100_027;
/// `PMEM2_E_CANNOT_READ_BOUNDS`.
pub const PMEM2_E_CANNOT_READ_BOUNDS: i32 = -100_028;
/// `PMEM2_E_NO_BAD_BLOCK_FOUND`.
pub const PMEM2_E_NO_BAD_BLOCK_FOUND: i32 = -100_029;
/// `PMEM2_E_LENGTH_OUT_OF_RANGE`.
pub const PMEM2_E_LENGTH_OUT_OF_RANGE: i32 = -100_030;
/// `PMEM2_E_INVALID_PROT_FLAG`.
pub const PMEM2_E_INVALID_PROT_FLAG: i32 = -100_031;
/// `PMEM2_E_NO_ACCESS`.
pub const PMEM2_E_NO_ACCESS: i32 = -100_032;
/// `PMEM2_E_VM_RESERVATION_NOT_EMPTY`.
pub const PMEM2_E_VM_RESERVATION_NOT_EMPTY: i32 = -100_033;
/// `PMEM2_E_MAP_EXISTS`.
pub const PMEM2_E_MAP_EXISTS: i32 = -100_034;
/// `PMEM2_E_FILE_DESCRIPTOR_NOT_SET`.
pub const PMEM2_E_FILE_DESCRIPTOR_NOT_SET: i32 = -100_035;
/// `PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED`.
pub const PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED: i32 = -100_036;
/// `PMEM2_E_IO_FAIL`.
pub const PMEM2_E_IO_FAIL: i32 = -100_037;

#[cfg(test)]
mod tests {
    use super::*;
    use pmem2::Error;

    #[test]
    #[allow(clippy::too_many_lines)] // one line per code
    fn every_code_is_the_core_errors_code() {
        let pairs: &[(Error, i32)] = &[
            (Error::Unknown("".into()), PMEM2_E_UNKNOWN),
            (Error::NotSupported("".into()), PMEM2_E_NOSUPP),
            (
                Error::FileHandleNotSet("".into()),
                PMEM2_E_FILE_HANDLE_NOT_SET,
            ),
            (
                Error::InvalidFileHandle("".into()),
                PMEM2_E_INVALID_FILE_HANDLE,
            ),
            (Error::InvalidFileType("".into()), PMEM2_E_INVALID_FILE_TYPE),
            (Error::MapRange("".into()), PMEM2_E_MAP_RANGE),
            (Error::MappingExists("".into()), PMEM2_E_MAPPING_EXISTS),
            (
                Error::GranularityNotSet("".into()),
                PMEM2_E_GRANULARITY_NOT_SET,
            ),
            (
                Error::GranularityNotSupported("".into()),
                PMEM2_E_GRANULARITY_NOT_SUPPORTED,
            ),
            (
                Error::OffsetOutOfRange("".into()),
                PMEM2_E_OFFSET_OUT_OF_RANGE,
            ),
            (Error::OffsetUnaligned("".into()), PMEM2_E_OFFSET_UNALIGNED),
            (
                Error::InvalidAlignmentFormat("".into()),
                PMEM2_E_INVALID_ALIGNMENT_FORMAT,
            ),
            (
                Error::InvalidAlignmentValue("".into()),
                PMEM2_E_INVALID_ALIGNMENT_VALUE,
            ),
            (
                Error::InvalidSizeFormat("".into()),
                PMEM2_E_INVALID_SIZE_FORMAT,
            ),
            (Error::LengthUnaligned("".into()), PMEM2_E_LENGTH_UNALIGNED),
            (Error::MappingNotFound("".into()), PMEM2_E_MAPPING_NOT_FOUND),
            (Error::BufferTooSmall("".into()), PMEM2_E_BUFFER_TOO_SMALL),
            (Error::SourceEmpty("".into()), PMEM2_E_SOURCE_EMPTY),
            (
                Error::InvalidSharingValue("".into()),
                PMEM2_E_INVALID_SHARING_VALUE,
            ),
            (
                Error::SrcDevdaxPrivate("".into()),
                PMEM2_E_SRC_DEVDAX_PRIVATE,
            ),
            (
                Error::InvalidAddressRequestType("".into()),
                PMEM2_E_INVALID_ADDRESS_REQUEST_TYPE,
            ),
            (
                Error::AddressUnaligned("".into()),
                PMEM2_E_ADDRESS_UNALIGNED,
            ),
            (Error::AddressNull("".into()), PMEM2_E_ADDRESS_NULL),
            (Error::DeepFlushRange("".into()), PMEM2_E_DEEP_FLUSH_RANGE),
            (
                Error::InvalidRegionFormat("".into()),
                PMEM2_E_INVALID_REGION_FORMAT,
            ),
            (
                Error::DaxRegionNotFound("".into()),
                PMEM2_E_DAX_REGION_NOT_FOUND,
            ),
            (
                Error::InvalidDevFormat("".into()),
                PMEM2_E_INVALID_DEV_FORMAT,
            ),
            (
                Error::CannotReadBounds("".into()),
                PMEM2_E_CANNOT_READ_BOUNDS,
            ),
            (
                Error::NoBadBlockFound("".into()),
                PMEM2_E_NO_BAD_BLOCK_FOUND,
            ),
            (
                Error::LengthOutOfRange("".into()),
                PMEM2_E_LENGTH_OUT_OF_RANGE,
            ),
            (Error::InvalidProtFlag("".into()), PMEM2_E_INVALID_PROT_FLAG),
            (Error::NoAccess("".into()), PMEM2_E_NO_ACCESS),
            (
                Error::VmReservationNotEmpty("".into()),
                PMEM2_E_VM_RESERVATION_NOT_EMPTY,
            ),
            (Error::MapExists("".into()), PMEM2_E_MAP_EXISTS),
            (
                Error::FileDescriptorNotSet("".into()),
                PMEM2_E_FILE_DESCRIPTOR_NOT_SET,
            ),
            (
                Error::SourceTypeNotSupported("".into()),
                PMEM2_E_SOURCE_TYPE_NOT_SUPPORTED,
            ),
            (Error::IoFail("".into()), PMEM2_E_IO_FAIL),
        ];
        for (error, code) in pairs {
            assert_eq!(error.code(), *code, "{}", error.code_name());
        }
        assert_eq!(pairs.len(), 37);
    }
}
