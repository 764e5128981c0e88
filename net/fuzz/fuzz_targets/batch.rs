//! Fuzzes record batch parsing: the storage header, produce validation and
//! the record iterator.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = storage::batch::BatchHeader::parse(data);
    let _ = storage::batch::verify_crc(data);
    let records = bytes::Bytes::copy_from_slice(data);
    for batch in net::records::batches(&records).flatten() {
        let _ = net::records::validate_produced(&batch);
        if let Ok(iter) = batch.records() {
            for record in iter {
                if record.is_err() {
                    break;
                }
            }
        }
    }
});
