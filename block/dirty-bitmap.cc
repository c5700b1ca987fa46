// Dirty bitmaps (see dirty-bitmap.h).
#include "block/dirty-bitmap.h"

#include <algorithm>
#include <bit>
#include <new>

namespace qemu::block {

namespace {

// 2^30 words (8 GiB of bits): QEMU's HBitmap would try to allocate that and abort.
constexpr uint64_t kMaxWords = uint64_t{1} << 30;

uint64_t chunks_for(int64_t size, uint32_t granularity)
{
    return (static_cast<uint64_t>(size) + granularity - 1) / granularity;
}

}  // namespace

Result<std::shared_ptr<DirtyBitmap>> DirtyBitmap::make(std::string name, uint32_t granularity, int64_t size)
{
    if (granularity < 512 || (granularity & (granularity - 1)) != 0) {
        return make_error("Granularity must be power of 2 and at least 512");
    }
    std::shared_ptr<DirtyBitmap> bitmap(new DirtyBitmap(std::move(name), granularity));
    TRY_VOID(bitmap->resize(size));
    return bitmap;
}

int64_t DirtyBitmap::size() const
{
    std::lock_guard lock(m_lock);
    return m_size;
}

bool DirtyBitmap::recording() const
{
    std::lock_guard lock(m_lock);
    return m_recording;
}

void DirtyBitmap::set_recording(bool on)
{
    std::lock_guard lock(m_lock);
    m_recording = on;
}

int64_t DirtyBitmap::count() const
{
    std::lock_guard lock(m_lock);
    return static_cast<int64_t>(m_set * m_granularity);
}

void DirtyBitmap::set_chunks_locked(uint64_t first, uint64_t last)
{
    const uint64_t chunks = chunks_for(m_size, m_granularity);
    last = std::min(last, chunks == 0 ? 0 : chunks - 1);
    for (uint64_t chunk = first; chunk <= last && chunk < chunks; ++chunk) {
        uint64_t& word = m_words[chunk / 64];
        const uint64_t bit = uint64_t{1} << (chunk % 64);
        if (!(word & bit)) {
            word |= bit;
            ++m_set;
        }
    }
}

void DirtyBitmap::set_range(int64_t offset, int64_t bytes)
{
    if (offset < 0 || bytes <= 0) {
        return;
    }
    std::lock_guard lock(m_lock);
    const auto first = static_cast<uint64_t>(offset) / m_granularity;
    const auto last = (static_cast<uint64_t>(offset) + static_cast<uint64_t>(bytes) - 1) / m_granularity;
    set_chunks_locked(first, last);
}

void DirtyBitmap::clear()
{
    std::lock_guard lock(m_lock);
    std::ranges::fill(m_words, 0);
    m_set = 0;
}

DirtyBitmap::Saved DirtyBitmap::save() const
{
    std::lock_guard lock(m_lock);
    return Saved{m_size, m_words, m_set};
}

void DirtyBitmap::restore(Saved saved)
{
    std::lock_guard lock(m_lock);
    m_size = saved.size;
    m_words = std::move(saved.words);
    m_set = saved.set;
}

Result<void> DirtyBitmap::resize_locked(int64_t size)
{
    const uint64_t chunks = chunks_for(std::max<int64_t>(size, 0), m_granularity);
    const uint64_t words = std::max<uint64_t>((chunks + 63) / 64, 1);
    if (words > kMaxWords) {
        return make_error("Cannot allocate a dirty bitmap of " + std::to_string(words * 8) + " bytes");
    }
    try {
        m_words.resize(words, 0);
    } catch (const std::bad_alloc&) {
        return make_errno_error(ENOMEM, "Cannot allocate a dirty bitmap of " + std::to_string(words * 8) + " bytes");
    }
    // Bits past the new end go.
    if (chunks % 64 != 0) {
        m_words[chunks / 64] &= (uint64_t{1} << (chunks % 64)) - 1;
    }
    for (uint64_t i = (chunks + 63) / 64; i < m_words.size(); ++i) {
        m_words[i] = 0;
    }
    m_set = 0;
    for (uint64_t word : m_words) {
        m_set += static_cast<uint64_t>(std::popcount(word));
    }
    m_size = size;
    return {};
}

Result<void> DirtyBitmap::resize(int64_t size)
{
    std::lock_guard lock(m_lock);
    return resize_locked(size);
}

void DirtyBitmap::merge(const DirtyBitmap& source)
{
    const std::vector<uint64_t> bits = source.words();
    std::lock_guard lock(m_lock);
    for (uint64_t i = 0; i < bits.size(); ++i) {
        for (uint64_t word = bits[i]; word != 0; word &= word - 1) {
            const uint64_t chunk = i * 64 + static_cast<uint64_t>(std::countr_zero(word));
            const uint64_t offset = chunk * source.m_granularity;
            set_chunks_locked(offset / m_granularity, (offset + source.m_granularity - 1) / m_granularity);
        }
    }
}

std::vector<uint64_t> DirtyBitmap::words() const
{
    std::lock_guard lock(m_lock);
    return m_words;
}

std::vector<std::shared_ptr<DirtyBitmap>> DirtyBitmaps::list() const
{
    std::lock_guard lock(m_lock);
    return m_bitmaps;
}

std::shared_ptr<DirtyBitmap> DirtyBitmaps::find(const std::string& name) const
{
    std::lock_guard lock(m_lock);
    auto found = std::ranges::find_if(m_bitmaps, [&name](const auto& b) { return b->name() == name; });
    return found == m_bitmaps.end() ? nullptr : *found;
}

void DirtyBitmaps::add(std::shared_ptr<DirtyBitmap> bitmap)
{
    std::lock_guard lock(m_lock);
    m_bitmaps.insert(m_bitmaps.begin(), std::move(bitmap));
}

bool DirtyBitmaps::remove(const std::string& name)
{
    std::lock_guard lock(m_lock);
    return std::erase_if(m_bitmaps, [&name](const auto& b) { return b->name() == name; }) != 0;
}

void DirtyBitmaps::note_write(int64_t offset, int64_t bytes)
{
    std::lock_guard lock(m_lock);
    for (const auto& bitmap : m_bitmaps) {
        if (const int64_t end = offset + bytes; end > bitmap->size()) {
            // A failed allocation leaves the bitmap as it was: the marks below stop at its end.
            (void)bitmap->resize((end + 511) / 512 * 512);
        }
        if (bitmap->recording()) {
            bitmap->set_range(offset, bytes);
        }
    }
}

void DirtyBitmaps::note_discard(int64_t offset, int64_t bytes)
{
    std::lock_guard lock(m_lock);
    for (const auto& bitmap : m_bitmaps) {
        if (bitmap->recording()) {
            bitmap->set_range(offset, bytes);
        }
    }
}

void DirtyBitmaps::resize(int64_t size)
{
    std::lock_guard lock(m_lock);
    for (const auto& bitmap : m_bitmaps) {
        (void)bitmap->resize(size);
    }
}

}  // namespace qemu::block
