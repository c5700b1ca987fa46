// Boxed<T>: an optional member held through the heap, for a QAPI type that contains itself
// through an optional member (ImageInfo's backing-image). It reads like std::optional<T>,
// which the generated readers and writers use (assign, test, dereference), but T may still
// be incomplete where the member is declared. Copies are deep, as std::optional's are.
#pragma once

#include <memory>
#include <utility>

namespace qemu {

template <typename T>
class Boxed {
public:
    Boxed() = default;
    Boxed(const Boxed& other) : m_value(other.m_value ? std::make_unique<T>(*other.m_value) : nullptr) {}
    Boxed(Boxed&&) noexcept = default;
    Boxed(T value) : m_value(std::make_unique<T>(std::move(value))) {}
    Boxed& operator=(const Boxed& other)
    {
        if (this != &other) {
            m_value = other.m_value ? std::make_unique<T>(*other.m_value) : nullptr;
        }
        return *this;
    }
    Boxed& operator=(Boxed&&) noexcept = default;
    Boxed& operator=(T value)
    {
        m_value = std::make_unique<T>(std::move(value));
        return *this;
    }
    ~Boxed() = default;

    bool has_value() const { return m_value != nullptr; }
    explicit operator bool() const { return has_value(); }
    T& operator*() { return *m_value; }
    const T& operator*() const { return *m_value; }
    T* operator->() { return m_value.get(); }
    const T* operator->() const { return m_value.get(); }
    T& emplace() { return *(m_value = std::make_unique<T>()); }
    void reset() { m_value.reset(); }

    friend bool operator==(const Boxed& a, const Boxed& b)
    {
        return a.has_value() == b.has_value() && (!a.has_value() || *a == *b);
    }

private:
    std::unique_ptr<T> m_value;
};

}  // namespace qemu
