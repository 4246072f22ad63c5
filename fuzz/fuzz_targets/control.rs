//! Control socket lines, as another local process could send them: a request or an error,
//! never a panic; a request reads back the same from its own line.
#![no_main]

use agentmux::control::proto::{decode_answer, decode_request};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|line: &str| {
    if let Ok(request) = decode_request(line) {
        assert_eq!(decode_request(&request.to_line()).ok(), Some(request));
    }
    let _ = decode_answer(line);
});
