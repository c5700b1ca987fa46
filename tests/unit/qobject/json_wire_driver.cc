// Feeds stdin byte by byte to a JsonStreamer, as the monitor does, and prints one line per
// callback: "VALUE", or the error text as QEMU's monitor would write it in "desc".
// json_vs_qemu.py compares these lines with a real QEMU's replies to the same bytes.
#include <iostream>
#include <iterator>

#include "qobject/json.h"

int main()
{
    std::string input((std::istreambuf_iterator<char>(std::cin)), std::istreambuf_iterator<char>());
    qemu::JsonStreamer streamer([](qemu::Result<qemu::JsonValue> r) {
        std::cout << (r ? std::string("VALUE") : qemu::json_to_string(r.error().desc)) << "\n";
    });
    for (char c : input) {
        streamer.feed(std::string_view(&c, 1));
    }
    return 0;
}
