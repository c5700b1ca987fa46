// The ring buffer behind "ringbuf"/"memory".
#include "char/ringbuf.h"

#include <cerrno>
#include <cstdint>
#include <string>

#include "char/backend.h"

namespace qemu::chr {

RingbufChardev::RingbufChardev(std::string id, std::unique_ptr<uint8_t[], FreeDeleter> buf, size_t size)
    : Chardev(std::move(id)), m_buf(std::move(buf)), m_size(size)
{
}

Result<std::unique_ptr<RingbufChardev>> RingbufChardev::create(std::string id, uint64_t size)
{
    void* buf = size <= SIZE_MAX ? std::calloc(static_cast<size_t>(size), 1) : nullptr;
    if (!buf) {
        return make_errno_error(
            ENOMEM, "Could not allocate " + std::to_string(size) + " bytes for ringbuf '" + id + "'");
    }
    return std::unique_ptr<RingbufChardev>(
        new RingbufChardev(std::move(id), std::unique_ptr<uint8_t[], FreeDeleter>(static_cast<uint8_t*>(buf)), size));
}

Result<size_t> RingbufChardev::write_all(std::span<const uint8_t> data)
{
    write(data);
    return data.size();
}

void RingbufChardev::write(std::span<const uint8_t> data)
{
    const uint64_t mask = m_size - 1;
    for (uint8_t byte : data) {
        m_buf[m_prod++ & mask] = byte;
        if (m_prod - m_cons > m_size) {
            m_cons = m_prod - m_size;
        }
    }
}

std::vector<uint8_t> RingbufChardev::read(size_t size)
{
    const uint64_t mask = m_size - 1;
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
    return TRY(RingbufChardev::create(id, opts.size));
}

}  // namespace qemu::chr
