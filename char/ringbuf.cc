// The ring buffer behind "ringbuf"/"memory".
#include "char/ringbuf.h"

#include "char/backend.h"

namespace qemu::chr {

RingbufChardev::RingbufChardev(std::string id, uint64_t size) : Chardev(std::move(id)), m_buf(size) {}

Result<size_t> RingbufChardev::write_all(std::span<const uint8_t> data)
{
    write(data);
    return data.size();
}

void RingbufChardev::write(std::span<const uint8_t> data)
{
    const uint64_t mask = m_buf.size() - 1;
    for (uint8_t byte : data) {
        m_buf[m_prod++ & mask] = byte;
        if (m_prod - m_cons > m_buf.size()) {
            m_cons = m_prod - m_buf.size();
        }
    }
}

std::vector<uint8_t> RingbufChardev::read(size_t size)
{
    const uint64_t mask = m_buf.size() - 1;
    std::vector<uint8_t> out;
    out.reserve(std::min(size, used()));
    while (out.size() < size && m_cons != m_prod) {
        out.push_back(m_buf[m_cons++ & mask]);
    }
    return out;
}

Result<ChardevBackendOptions> parse_ringbuf_opts(const QemuOpts& opts)
{
    RingbufOptions ringbuf;
    ringbuf.size = TRY(opts.get_size("size")).value_or(RingbufOptions{}.size);
    return ringbuf;
}

Result<ChardevPtr> open_ringbuf(const std::string& id, const RingbufOptions& opts, ChardevContext&)
{
    // QEMU only tests size & (size - 1); a zero size is refused too since it cannot hold data.
    if (opts.size == 0 || (opts.size & (opts.size - 1)) != 0) {
        return make_error("size of ringbuf chardev must be power of two");
    }
    return std::make_unique<RingbufChardev>(id, opts.size);
}

}  // namespace qemu::chr
